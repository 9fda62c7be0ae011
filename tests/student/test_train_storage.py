"""A full disk or a crash during a save: one clear error, nothing half-written taken for finished, resume works."""

from __future__ import annotations

import errno
import logging
import shutil
import sys

import pytest
import torch

from fcot.cli import main
from fcot.errors import StorageError
from fcot.formats import write_atomic
from fcot.student import StudentConfig, is_complete, last_checkpoint, train
from train_helpers import curated_file, trainable_model


@pytest.fixture(scope="module")
def setup(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    data = curated_file(shared_data, root / "F_zs_cot_multiarith.jsonl", n=8)
    return data, trainable_model(root / "gpt2", data)


def _config(model) -> StudentConfig:
    return StudentConfig(model=str(model), lora=False, max_steps=6, batch_size=4, eval_steps=2, val_fraction=0,
                         save_total_limit=3, precision="fp32")


def _full_disk_on_save(monkeypatch, into: str = "checkpoint-") -> None:
    """torch's writer fails as on a full disk when it saves into a folder named like `into` (optimizer state)."""
    real = torch.save

    def save(obj, f, *args, **kwargs):
        if into in str(f):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4096 vs 1024")
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


def test_a_full_disk_during_a_checkpoint_is_one_error_and_the_run_resumes(setup, tmp_path, monkeypatch, caplog):
    data, model = setup
    full = train(_config(model), data, tmp_path / "full")
    with monkeypatch.context() as patch:
        _full_disk_on_save(patch, "checkpoint-4")  # checkpoint-2 saved whole; checkpoint-4 dies half-written
        with pytest.raises(StorageError, match=r"checkpoints: a checkpoint could not be written \(.*unexpected pos"):
            train(_config(model), data, tmp_path / "run")
    run = tmp_path / "run"
    assert not is_complete(run) and last_checkpoint(run).name == "checkpoint-2"
    assert sorted(p.name for p in (run / "checkpoints").glob("*checkpoint*")) == ["checkpoint-2"]
    assert (run / "checkpoints" / ".saving" / "checkpoint-4").is_dir()  # the half-written one, under its staging name
    old = run / "checkpoints" / "checkpoint-6"  # what a version that saved in place left: no trainer state
    shutil.copytree(run / "checkpoints" / "checkpoint-2", old)
    (old / "trainer_state.json").unlink()
    with caplog.at_level(logging.WARNING):
        resumed = train(_config(model), data, run)
    assert [r.message for r in caplog.records if "half-written" in r.message] == [
        f"{run / 'checkpoints'}: dropped checkpoint-4, checkpoint-6, left half-written by an interrupted save; "
        "resuming from checkpoint-2"]
    assert resumed.resumed_from.endswith("checkpoint-2") and is_complete(run)
    assert resumed.losses[-1]["loss"] == pytest.approx(full.losses[-1]["loss"], rel=1e-4)


def test_the_cli_names_the_failure_and_the_command_that_resumes(setup, tmp_path, monkeypatch, capsys):
    data, model = setup
    _full_disk_on_save(monkeypatch)
    argv = ["train", str(data), "--model", str(model), "--full", "--max-steps", "2", "--val-fraction", "0",
            "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exit_.value.code == 2 and "Traceback" not in err and errors == [err.splitlines()[-1]]
    assert "checkpoint could not be written" in errors[0]
    assert errors[0].endswith("free some space, then resume with: fcot " + " ".join(argv))


def test_a_run_that_cannot_fit_is_refused_before_training(setup, tmp_path, monkeypatch):
    data, model = setup
    trainer_module = sys.modules["fcot.student.train"]  # the module, not the function fcot.student exports
    monkeypatch.setattr(trainer_module.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 10**5))
    with pytest.raises(StorageError, match=r"training writes about [\d,.]+ MB .* 0 MB are free"):
        train(_config(model), data, tmp_path / "run")
    assert last_checkpoint(tmp_path / "run") is None


def test_an_atomic_write_on_a_full_disk_is_a_storage_error(tmp_path, monkeypatch):
    import tempfile

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "kept.json").write_text("before")
    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    with pytest.raises(StorageError, match=r"kept\.json: the file could not be written \(No space left on device\); "
                                           r"it needs about 1 KB, [\d,.]+ [KM]B are free"):
        write_atomic(tmp_path / "kept.json", "after")
    assert (tmp_path / "kept.json").read_text() == "before"  # nothing already written is lost
