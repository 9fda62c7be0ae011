"""A full disk at each write of each verb: one `error:` line naming the path, what was being written, about how much
it needs and how much is free, and the command that resumes (exit 2); nothing already written is lost.

The disk fills where the write happens (`OSError(ENOSPC)` from the call that writes, SQLite's "database or disk is
full" for the cache), so the cases run on any machine.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile

import pytest
from full_disk import no_space, one_storage_error
from in_process import run_cli
from teacher.fault_server import FaultServer

from fcot.models import save_tiny_model


def _fill_disk_at_file(monkeypatch, name: str) -> None:
    """Atomic writes of files called `name` fail as on a full disk (everything else is written)."""
    real = tempfile.mkstemp

    def mkstemp(*args, prefix=None, **kwargs):
        if prefix and prefix.startswith(f".{name}."):
            no_space()
        return real(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


class _FullCache:
    """A SQLite connection whose inserts fail as on a full disk."""

    def __init__(self, db):
        self.db = db

    def execute(self, sql, *args):
        if sql.lstrip().startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


def _fill_cache(monkeypatch) -> None:
    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FullCache(real(*a, **k)))


@pytest.fixture
def workdir(tmp_path, monkeypatch, shared_data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return tmp_path


def test_teach_completion_file(workdir, monkeypatch, capsys):
    _fill_disk_at_file(monkeypatch, "D_multiarith.json")
    line = one_storage_error(["teach", "--task", "multiarith", "--teacher", "recorded:text-davinci-002", "--limit", "4",
                       "--out", "out"], capsys)
    assert "D_multiarith.json: the file could not be written (No space left on device)" in line


def test_teach_cache_keeps_what_was_answered(workdir, monkeypatch, capsys):
    argv = ["teach", "--task", "multiarith", "--teacher", "openai:m", "--limit", "3", "--out", "out",
            "--cache", "cache.sqlite3"]
    with FaultServer() as server:
        argv[argv.index("openai:m") + 1:argv.index("openai:m") + 1] = ["--base-url", server.url]
        with monkeypatch.context() as patch:
            patch.setenv("OPENAI_API_KEY", "k")
            _fill_cache(patch)
            line = one_storage_error(argv, capsys)
            assert "cache.sqlite3: the teacher's completion cache could not be written (database or disk is full)" \
                in line
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        assert run_cli(argv, capsys)[0] == 0  # space freed: the same command finishes


def test_curate_train_file(workdir, monkeypatch, capsys):
    _fill_disk_at_file(monkeypatch, "F_zs_cot_multiarith.jsonl")
    line = one_storage_error(["curate", "multiarith", "--out", "out"], capsys)
    assert "F_zs_cot_multiarith.jsonl: the file could not be written" in line


def test_eval_answers_keep_the_finished_ones(workdir, monkeypatch, capsys):
    model = save_tiny_model(workdir / "tiny")
    argv = ["eval", str(model), "--task", "coin_flip", "--limit", "4", "--max-new-tokens", "4", "--out", "out"]
    with monkeypatch.context() as patch:
        _fill_disk_at_file(patch, "D_coin_flip.json")
        assert "D_coin_flip.json: the file could not be written" in one_storage_error(argv, capsys)
    assert run_cli(argv, capsys)[0] == 0
    answers = next((workdir / "out").rglob("D_coin_flip.json"))
    assert len(json.loads(answers.read_text())["data"]) == 4


def test_report_figure_keeps_the_table(workdir, monkeypatch, capsys):
    rows = [{"task": "coin_flip", "method": "zero-shot", "model": "m", "template": "zs", "n": 2, "accuracy": 50.0}]
    (workdir / "results.json").write_text(json.dumps(rows))
    _fill_disk_at_file(monkeypatch, "accuracy.png")
    line = one_storage_error(["report", "results.json", "--out", "rep"], capsys)
    assert "accuracy.png: the file could not be written" in line
    assert not list((workdir / "rep").glob(".accuracy.png.*"))  # no half-written picture left behind


def test_final_model_of_a_training_run(workdir, monkeypatch, capsys):
    from transformers import PreTrainedModel

    model = save_tiny_model(workdir / "tiny")
    (workdir / "F.jsonl").write_text("".join(json.dumps({"input": f"Q{i} ###", "label": f" {i} END"}) + "\n"
                                             for i in range(4)))
    argv = ["train", "F.jsonl", "--model", str(model), "--full", "--max-steps", "1", "--val-fraction", "0",
            "--out", "run", "--precision", "fp32"]
    real = PreTrainedModel.save_pretrained

    def save_pretrained(self, path, *args, **kwargs):
        if ".final.tmp" in str(path):
            no_space()
        return real(self, path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(PreTrainedModel, "save_pretrained", save_pretrained)
        assert "run: the final model could not be written (No space left on device)" in one_storage_error(argv, capsys)
    assert not (workdir / "run" / ".final.tmp").exists()
    assert run_cli(argv, capsys)[0] == 0 and (workdir / "run" / "model.safetensors").is_file()
