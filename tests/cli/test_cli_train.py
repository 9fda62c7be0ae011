"""`fcot train` end to end: a run with its summary, and bad input as one `error:` line with nothing finished."""

from __future__ import annotations

import pytest
from train_helpers import curated_file, trainable_model

from fcot.formats import read_json
from fcot.student import is_complete

ENV = {"OMP_NUM_THREADS": "1"}
pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_writes_a_complete_run(fcot, shared_data, tmp_path):
    data = curated_file(shared_data, tmp_path / "F_zs_cot_multiarith.jsonl", n=8)
    model = trainable_model(tmp_path / "gpt2", data)
    config = tmp_path / "student.yaml"
    config.write_text("# fcot train F.jsonl --config student.yaml\nlora: false\nbatch_size: 4\nval_fraction: 0\n")
    res = fcot("train", data, "--model", model, "--config", config, "--max-steps", "3", "--lr", "1e-3",
               "--threads", "1", cwd=tmp_path, env=ENV)
    assert res.code == 0, res.stderr
    run = tmp_path / "runs" / "F_zs_cot_multiarith"
    assert "trained 3 steps" in res.stdout and "tokens/s" in res.stdout
    assert "train step 3/3  loss " in res.stderr  # stderr is no terminal here: plain progress lines, not a bar
    assert is_complete(run) and read_json(run / "train_metrics.json")["global_step"] == 3
    assert "learning_rate: 0.001" in (run / "fcot.yaml").read_text()
    again = fcot("train", data, "--model", model, "--config", config, "--max-steps", "3", "--lr", "1e-3",
                 cwd=tmp_path, env=ENV)
    assert again.code == 0 and "trained 3 steps" in again.stdout  # finished: reported, not retrained


def test_bad_input_is_one_error_line(fcot, shared_data, tmp_path):
    data = curated_file(shared_data, tmp_path / "F.jsonl", n=4)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("epochs: [\n")
    cases = [
        ([empty, "--model", tmp_path], "no training samples"),
        ([data, "--model", tmp_path / "missing-model"], "no such model folder"),
        ([data, "--config", bad_yaml], "not valid YAML"),
        ([data, "--batch-size", "0"], "batch_size"),
        ([data, "--micro-batch-size", "0"], "micro_batch_size"),
        ([data, "--batching", "zigzag"], "batching"),
    ]
    for args, message in cases:
        res = fcot("train", *args, "--out", tmp_path / "run", cwd=tmp_path, env=ENV)
        assert res.code == 2, (args, res.stderr)
        assert res.stderr.startswith("error: ") and message in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert not is_complete(tmp_path / "run")
