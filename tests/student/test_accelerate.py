"""`accelerate launch` really runs `fcot train` as 2 CPU processes (DDP over gloo) and finishes one run."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys

from fcot.curate import hold_out, split_validation
from fcot.formats import read_json
from fcot.student import is_complete
from fcot.student.data import read_train_file
from train_helpers import curated_file, trainable_model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_processes_train_one_model(shared_data, tmp_path):
    data = curated_file(shared_data, tmp_path / "F_zs_cot_multiarith.jsonl", n=16)
    model = trainable_model(tmp_path / "gpt2", data)
    out = tmp_path / "run"
    # Without GPUs, fcot trains on CPU, so the multi-process launcher gives DDP over gloo.
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()),
           "-m", "fcot", "train", str(data), "--model", str(model), "--full", "--epochs", "1", "--batch-size", "2",
           "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained ") == 1  # one summary, from the main process
    metrics = read_json(out / "train_metrics.json")
    assert metrics["world_size"] == 2
    # the curated samples less those of the held-out validation questions, 2 per process and step
    curated = read_train_file(data)
    rows, _ = split_validation(curated.rows, hold_out(curated.meta["questions"], 0.2, seed=0, max_questions=100))
    assert metrics["train_samples"] == len(rows) and metrics["global_step"] == math.ceil(len(rows) / 4)
    assert is_complete(out) and (out / "model.safetensors").exists()
