"""Kill `fcot train` at any moment, even halfway through saving a checkpoint: the same command resumes and ends
where an uninterrupted run ends. Ctrl-C says what was saved and how to resume (exit 130)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fcot.student.run import STAGING, checkpoints, is_saved
from train_helpers import curated_file, trainable_model

# imported by the child through PYTHONPATH: every torch.save pauses, so a kill can land in the middle of a save
SLOW_SAVES = """
import time, torch
_save = torch.save
def _slow_save(*args, **kwargs):
    time.sleep(0.4)
    return _save(*args, **kwargs)
torch.save = _slow_save
"""


def _command(data: Path, model: Path, out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "fcot", "train", str(data), "--model", str(model), "--config", str(config),
            "--out", str(out), "--threads", "1"]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # renamed or removed since it was listed
        return 0.0


def _mid_save(out: Path, since: float) -> bool:
    """Whether this process is writing a checkpoint: one in the staging folder, made since it started."""
    return any(_mtime(p) > since for p in (out / "checkpoints" / STAGING).glob("checkpoint-*"))


def _whole_checkpoints_only(out: Path) -> bool:
    """Whether every `checkpoint-N` folder is complete, whenever the process died."""
    return all(is_saved(p) for p in checkpoints(out))


def _kill_when(cmd: list[str], env: dict, ready, sig: int = signal.SIGKILL, timeout: float = 240) -> subprocess.Popen:
    """Start the command and send it `sig` once `ready(started)` holds (`started`: the wall-clock start)."""
    started = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    while not ready(started) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be stopped: " + proc.stderr.read()[-2000:]
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["decoder", "encoder_decoder"])
def test_killed_anywhere_the_same_command_resumes_to_the_same_result(kind, shared_data, tmp_path):
    data = curated_file(shared_data, tmp_path / "F_zs_cot_multiarith.jsonl", model_type=kind, n=8)
    model = trainable_model(tmp_path / "model", data, kind)
    config = tmp_path / "student.yaml"
    config.write_text("lora: false\nmax_steps: 10\nbatch_size: 4\neval_steps: 2\nval_fraction: 0\n"
                      "save_total_limit: 2\nprecision: fp32\nlearning_rate: 0.003\n")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SLOW_SAVES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])}

    whole = subprocess.run(_command(data, model, tmp_path / "whole", config), capture_output=True, text=True,
                           timeout=600)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "run"
    cmd = _command(data, model, out, config)
    rng = random.Random(3)
    kills = 0
    for _ in range(2 if kind == "decoder" else 1):  # halfway through writing a checkpoint
        _kill_when(cmd, env, lambda started: _mid_save(out, started))
        kills += 1
        assert _whole_checkpoints_only(out)
    delay = rng.uniform(0.5, 2.0)  # and at a random moment of training
    _kill_when(cmd, env, lambda started: any(_mtime(p) > started for p in (out / "checkpoints").glob("*"))
               and time.time() - started > delay)
    kills += 1
    assert _whole_checkpoints_only(out)
    if kind == "decoder":  # Ctrl-C: one line, exit 130, and the same command resumes
        stopped = _kill_when(cmd, env, lambda started: _mid_save(out, started), sig=signal.SIGINT)
        lines = [line for line in stopped.stderr.read().splitlines() if line.startswith("interrupted:")]
        assert stopped.returncode == 130 and len(lines) == 1 and lines[0].endswith("resume with: fcot " +
                                                                                    " ".join(cmd[3:]))
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    got = json.loads((out / "train_metrics.json").read_text())
    want = json.loads((tmp_path / "whole" / "train_metrics.json").read_text())
    assert kills >= 2 and got["global_step"] == want["global_step"] == 10
    assert [h["step"] for h in got["losses"]] == list(range(1, 11))
    assert got["losses"][-1]["loss"] == pytest.approx(want["losses"][-1]["loss"], rel=1e-3)
    assert got["real_tokens"] == want["real_tokens"]
