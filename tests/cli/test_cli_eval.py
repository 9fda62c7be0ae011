"""`fcot eval` end to end: tiny students on the real MultiArith data, a training run folder, bad input."""

from __future__ import annotations

import json

import pytest
import yaml

from fcot.formats import CompletionDataset, completion_path
from fcot.models import DONE_MARKER, save_tiny_model
from fcot.tasks import get_task


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {kind: save_tiny_model(root / kind, kind) for kind in ("decoder", "encoder_decoder")}


def test_eval_model_folder_prints_table_and_writes_completions(fcot, tiny_dirs, shared_data, tmp_path):
    args = ["eval", tiny_dirs["decoder"], "--task", "multiarith", "--template", "ft_cot_token", "--limit", "3",
            "--max-new-tokens", "4", "--batch-size", "2", "--out", tmp_path, "--data-dir", shared_data]
    result = fcot(*args)
    assert result.code == 0, result.stderr
    assert "multiarith" in result.stdout and "ft_cot_token" in result.stdout and "completions:" in result.stdout
    path = completion_path(tmp_path, "decoder", "ft_cot_token", "multiarith")
    assert len(CompletionDataset.load(path)) == 3
    again = fcot(*args, "--json")
    assert again.code == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["n"] == 3 and summary["file"] == str(path) and 0 <= summary["accuracy"] <= 1


def test_eval_run_folder_takes_template_task_and_finetune_key_from_fcot_yaml(fcot, tmp_path, shared_data):
    run = save_tiny_model(tmp_path / "runs" / "ma_cot", "decoder")
    record = {"student": {"model": "smollm2-135m-instruct"}, "model_type": "decoder",
              "data": {"dataset_key": "multiarith", "template": "ft_cot_natural", "stop_phrase": "END"}}
    (run / "fcot.yaml").write_text(yaml.safe_dump(record))
    (run / DONE_MARKER).write_text("done\n")
    result = fcot("eval", run, "--limit", "2", "--max-new-tokens", "3", "--out", tmp_path / "out", "--json",
                  "--data-dir", shared_data)
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    expected = completion_path(tmp_path / "out", "smollm2-135m-instruct", "ft_cot_natural", "multiarith",
                               finetune_key="ma_cot")
    assert summary["template"] == "ft_cot_natural" and summary["file"] == str(expected)
    assert CompletionDataset.load(expected).metadata["stop"] == ["END"]
    (run / DONE_MARKER).unlink()
    unfinished = fcot("eval", run, "--out", tmp_path / "out")
    assert unfinished.code == 2 and "unfinished" in unfinished.stderr


def test_eval_samples_d_answers_per_train_question_and_resumes(fcot, tiny_dirs, tmp_path, shared_data):
    args = ["eval", tiny_dirs["decoder"], "--task", "coin_flip", "--template", "ft_cot_token", "--split", "train",
            "--limit", "3", "-D", "4", "--temperature", "0.7", "--max-new-tokens", "6", "--out", tmp_path, "--json",
            "--data-dir", shared_data]
    result = fcot(*args)
    assert result.code == 0, result.stderr
    path = completion_path(tmp_path, "decoder", "ft_cot_token_t70_d4", "coin_flip")
    assert json.loads(result.stdout)["file"] == str(path)
    cd = CompletionDataset.load(path)
    assert cd.metadata["completion_key"] == "ft_cot_token_t70_d4" and cd.metadata["split"] == "train"
    assert sorted(cd.data) == sorted(get_task("coin_flip").load_split(data_dir=shared_data)["train"][:3])
    assert all([r["completion_index"] for r in rows] == [0, 1, 2, 3] for rows in cd.data.values())
    assert len({r["completion"] for rows in cd.data.values() for r in rows}) > 3  # sampled, not 4 greedy copies
    before = path.read_text()
    assert fcot(*args).code == 0 and path.read_text() == before  # complete: nothing generated again
    greedy_copies = fcot("eval", tiny_dirs["decoder"], "--task", "coin_flip", "-D", "2", "--out", tmp_path / "x")
    assert "--temperature 0.7" in _one_error_line(greedy_copies)


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_eval_bad_input_is_one_error_line(fcot, tiny_dirs, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no such model" in _one_error_line(fcot("eval", tmp_path / "missing", "--task", "multiarith"))
    assert "no config.json" in _one_error_line(fcot("eval", tmp_path / "empty", "--task", "multiarith"))
    assert "did you mean: multiarith" in _one_error_line(fcot("eval", tiny_dirs["decoder"], "--task", "multiarit"))
    assert "--task" in _one_error_line(fcot("eval", tiny_dirs["decoder"]))
    bad_template = fcot("eval", tiny_dirs["decoder"], "--task", "multiarith", "--template", "cot")
    assert "unknown prediction template" in _one_error_line(bad_template)
    unsupported = fcot("eval", tiny_dirs["encoder_decoder"], "--task", "multiarith", "--template", "zs_cot",
                       "--out", tmp_path / "out")
    assert "does not support model type encoder_decoder" in _one_error_line(unsupported)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_eval_default_student_zero_shot(fcot, tmp_path, shared_data):
    result = fcot("eval", "smollm2-135m-instruct", "--task", "multiarith", "--template", "zs", "--limit", "4",
                  "--max-new-tokens", "16", "--threads", "1", "--out", tmp_path, "--json", "--data-dir", shared_data)
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["n"] == 4 and summary["tokens_per_s"] > 0
    rows = CompletionDataset.load(summary["file"]).select()
    assert all(r["prompt"].startswith("Q: ") and r["prompt"].endswith("A:") for r in rows)
    assert any(r["completion"].strip() for r in rows)
