"""`fcot serve` in a subprocess, driven end to end by `fcot teach` and `fcot curate`; `local:` must agree.

Runs once per precision: served and local generation pick the same one, and agree exactly under fp32.
"""

from __future__ import annotations

import json

import pytest
from serve_helpers import ONE_THREAD, serve_in_subprocess
from tiny_lm import ANSWERED


@pytest.fixture(scope="module")
def fcot_serve(answering_model_dir, tmp_path_factory, forced_precision):
    """Start `fcot serve` on a free port for this module's tests; yields its /v1 URL."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with serve_in_subprocess([str(answering_model_dir), "--name", "tiny", "--device", "cpu"], log, ONE_THREAD) as url:
        assert f"precision: {forced_precision} (FCOT_PRECISION={forced_precision})" in log.read_text()
        yield url


def completions(out, model: str) -> dict:
    path = out / "completion_data" / f"B_{model}__C_zs_cot" / "D_multiarith.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_teach_and_curate_through_fcot_serve_and_local_teacher(fcot, fcot_serve, answering_model_dir, tmp_path,
                                                               forced_precision):
    common = ["--task", "multiarith", "--limit", str(ANSWERED + 1), "--max-tokens", "16", "--answer-max-tokens", "6",
              "--cache", str(tmp_path / "c.sqlite3")]
    served = fcot("teach", "--teacher", "openai:tiny", "--base-url", fcot_serve, "--out", str(tmp_path / "http"),
                  *common)
    assert served.code == 0, served.stderr
    over_http = completions(tmp_path / "http", "tiny")
    rows = [r for rows in over_http["data"].values() for r in rows]
    assert len(rows) == ANSWERED + 1
    for row in rows:
        assert row["reasoning_prompt"] == f"Q: {row['question']}\nA: Let's think step by step."
        assert row["prompt"] == (row["reasoning_prompt"] + row["reasoning_completion"]
                                 + " \nTherefore, the answer (arabic numerals) is")
        assert row["reasoning_finish_reason"] in ("stop", "length") and row["finish_reason"] in ("stop", "length")
    for row in rows[:ANSWERED]:  # the questions the model learnt
        assert row["reasoning_completion"] == f" So it is {row['answer']}." and row["completion"] == f" {row['answer']}."
        assert row["reasoning_finish_reason"] == "stop"
    assert over_http["metadata"]["usage"]["prompt_tokens"] > 0

    local = fcot("teach", "--teacher", f"local:{answering_model_dir}", "--out", str(tmp_path / "local"), *common,
                 env=ONE_THREAD)
    assert local.code == 0, local.stderr
    assert f"precision: {forced_precision}" in local.stderr
    by_local = completions(tmp_path / "local", answering_model_dir.name)["data"]
    if forced_precision == "fp32":  # one numerical path: identical text
        assert by_local == over_http["data"]
    else:  # bf16 batches of other shapes may round differently: the same questions, answered and finished
        assert by_local.keys() == over_http["data"].keys()
        for rows in by_local.values():
            assert all(r["finish_reason"] in ("stop", "length") and r["completion"] is not None for r in rows)

    source = tmp_path / "http" / "completion_data" / "B_tiny__C_zs_cot" / "D_multiarith.json"
    curated = fcot("curate", str(source), "--out", str(tmp_path / "curated"))
    assert curated.code == 0, curated.stderr
    (samples_file,) = (tmp_path / "curated").rglob("*.jsonl")
    kept = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert len(kept) == ANSWERED and all("So it is" in k["label"] for k in kept)


def test_prompt_over_the_served_context(fcot, fcot_serve, tmp_path):
    result = fcot("teach", "--task", "multiarith", "--limit", "2", "--teacher", "openai:tiny", "--base-url",
                  fcot_serve, "--max-tokens", "1100", "--out", str(tmp_path), "--cache", str(tmp_path / "c.sqlite3"))
    assert result.code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "context_length_exceeded" in errors[0] and "Traceback" not in result.stderr
