"""Stop the long verbs at any moment: `fcot run` killed mid-training resumes to the uninterrupted results; Ctrl-C
of `fcot run` and `fcot eval` says in one line what was saved and how to resume (exit 130), and resuming works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fcot.models import save_tiny_model


def _start(args: list, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fcot", *map(str, args)], env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _stop_when(proc: subprocess.Popen, ready, sig: int, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "it finished before it could be stopped: " + proc.stderr.read()[-2000:]
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    return stderr


def _interrupted_line(proc: subprocess.Popen, stderr: str, args: list) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(("interrupted:", "error:", "Traceback"))]
    assert proc.returncode == 130 and len(lines) == 1, stderr
    assert lines[0].endswith("resume with: fcot " + " ".join(map(str, args))), lines[0]
    return lines[0]


def _run_config(root: Path, shared_data: Path, kind: str) -> Path:
    """A tiny `fcot run` config (a decoder with LoRA, or a fully fine-tuned T5) and its student under root."""
    config = {"name": "x", "tasks": ["multiarith"], "out": str(root / "out"), "data_dir": str(shared_data),
              "student": {"model": str(save_tiny_model(root / "tiny", kind)), "max_steps": 8, "batch_size": 4,
                          "eval_steps": 2, "val_fraction": 0, "precision": "fp32", "lora": kind == "decoder"},
              "curate": {"max_samples": 32, "calculator": False}, "eval": {"limit": 24, "max_new_tokens": 12, "batch_size": 4},
              "baselines": ["zs"]}
    path = root / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, shared_data) -> Path:
    return _run_config(tmp_path_factory.mktemp("interrupts"), shared_data, "decoder")


def _accuracies(root: Path) -> dict[str, float]:
    return {r["method"]: r["accuracy"] for r in json.loads((root / "results.json").read_text())}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["decoder", "encoder_decoder"])
def test_fcot_run_killed_or_interrupted_resumes_to_the_same_results(kind, tiny_run, fcot, tmp_path, shared_data):
    if kind == "encoder_decoder":
        tiny_run = _run_config(tmp_path, shared_data, kind)
    whole = fcot("run", tiny_run, "--set", "name=whole", "--threads", "1")
    assert whole.code == 0, whole.stderr
    out = tiny_run.parent / "out"
    args = ["run", tiny_run, "--set", "name=stopped", "--threads", "1"]
    checkpoints = out / "stopped" / "runs" / "zs_cot_multiarith" / "checkpoints"
    _stop_when(_start(args), lambda: checkpoints.exists() and any(checkpoints.glob("checkpoint-*/trainer_state.json")),
               signal.SIGKILL)  # during training
    proc = _start(args)
    stderr = _stop_when(proc, lambda: any(checkpoints.glob("checkpoint-4/trainer_state.json")), signal.SIGINT)
    assert "finished stages and partial answers are saved under" in _interrupted_line(proc, stderr, args)
    done = fcot(*args)
    assert done.code == 0, done.stderr
    assert _accuracies(out / "stopped") == _accuracies(out / "whole")


@pytest.mark.slow
def test_fcot_eval_interrupted_keeps_finished_batches_and_resumes(tiny_run, fcot, tmp_path, shared_data):
    model = tiny_run.parent / "tiny"
    args = ["eval", model, "--task", "multiarith", "--template", "zs", "--limit", "96", "--batch-size", "4",
            "--max-new-tokens", "16", "--out", tmp_path, "--data-dir", shared_data, "--threads", "1"]
    answers = tmp_path / "completion_data" / "B_tiny__C_zs" / "D_multiarith.json"
    proc = _start(args, {"FCOT_PRECISION": "fp32"})
    stderr = _stop_when(proc, answers.exists, signal.SIGINT)  # the first 16 answers are saved
    assert f"finished batches of answers are saved in {answers}" in _interrupted_line(proc, stderr, args)
    saved = json.loads(answers.read_text())["data"]
    assert 0 < len(saved) < 96
    done = subprocess.run([sys.executable, "-m", "fcot", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "FCOT_PRECISION": "fp32"}, timeout=600)
    assert done.returncode == 0, done.stderr
    final = json.loads(answers.read_text())["data"]
    assert len(final) == 96 and all(final[k] == rows for k, rows in saved.items())  # kept, not redone
