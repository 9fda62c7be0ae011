"""`fcot serve` in a subprocess, driven end to end by `fcot teach`; the `local:` teacher must agree with it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import httpx
import pytest


@pytest.fixture
def fcot_serve(tiny_model_dir, tmp_path):
    """Start `fcot serve` on a free port; yields its /v1 URL."""
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "fcot", "serve", str(tiny_model_dir), "--port", "0",
                                 "--name", "tiny", "--device", "cpu"], stdout=sink, stderr=sink)
    try:
        deadline = time.time() + 120
        while not (found := re.search(r"at (http://\S+/v1)", log.read_text())):
            assert proc.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.1)
        url = found.group(1)
        while True:
            try:
                if httpx.get(f"{url}/models").status_code == 200:
                    break
            except httpx.TransportError:
                assert proc.poll() is None and time.time() < deadline, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def completions(out, model: str) -> dict:
    path = out / "completion_data" / f"B_{model}__C_zs_cot" / "D_multiarith.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_teach_through_fcot_serve_matches_local_teacher(fcot, fcot_serve, tiny_model_dir, tmp_path):
    common = ["--task", "multiarith", "--limit", "4", "--max-tokens", "12", "--answer-max-tokens", "4",
              "--cache", str(tmp_path / "c.sqlite3")]
    served = fcot("teach", "--teacher", "openai:tiny", "--base-url", fcot_serve, "--out", str(tmp_path / "http"),
                  *common)
    assert served.code == 0, served.stderr
    over_http = completions(tmp_path / "http", "tiny")
    assert len(over_http["data"]) == 4
    for rows in over_http["data"].values():
        (row,) = rows
        assert row["reasoning_prompt"] == f"Q: {row['question']}\nA: Let's think step by step."
        assert row["prompt"] == (row["reasoning_prompt"] + row["reasoning_completion"]
                                 + " \nTherefore, the answer (arabic numerals) is")
        assert row["reasoning_finish_reason"] in ("stop", "length") and row["finish_reason"] in ("stop", "length")
    assert over_http["metadata"]["usage"]["prompt_tokens"] > 0

    local = fcot("teach", "--teacher", f"local:{tiny_model_dir}", "--out", str(tmp_path / "local"), *common)
    assert local.code == 0, local.stderr
    assert completions(tmp_path / "local", tiny_model_dir.name)["data"] == over_http["data"]


def test_prompt_over_the_served_context(fcot, fcot_serve, tmp_path):
    result = fcot("teach", "--task", "multiarith", "--limit", "2", "--teacher", "openai:tiny", "--base-url",
                  fcot_serve, "--max-tokens", "600", "--out", str(tmp_path), "--cache", str(tmp_path / "c.sqlite3"))
    assert result.code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "context_length_exceeded" in errors[0] and "Traceback" not in result.stderr
