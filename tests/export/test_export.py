"""`fcot export` on a tiny run: GGUF and ONNX files that answer like the run (parity), and `fcot eval` without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fcot.export import check_parity, export_run, parity_path
from fcot.models.edge import export_info


@pytest.mark.parametrize("fmt, quantize, agreement", [("gguf", "f16", 1.0), ("gguf", "q8_0", 2 / 3),
                                                      ("gguf", "q4_0", 1 / 3), ("onnx", "fp32", 1.0),
                                                      ("onnx", "int8", 2 / 3)])
def test_export_answers_like_the_run(tiny_run, tiny_info, known, tmp_path, fmt, quantize, agreement):
    out = export_run(tiny_run, tiny_info, fmt, quantize, tmp_path / f"tiny.{fmt}")
    assert export_info(out)["finetune_key"] == f"{tiny_run.name}-{fmt}-{quantize}"
    report = check_parity(tiny_run, out, tiny_info, n=known)
    assert report["n"] == known
    assert report["torch"]["accuracy"] == 1.0  # the run knows these answers
    assert report["identical_answers"] >= agreement
    assert report["edge"]["tokens_per_s"] > 0 and report["edge"]["precision"].startswith(fmt)
    assert json.loads(parity_path(out).read_text(encoding="utf-8")) == report


@pytest.mark.parametrize("fmt, quantize", [("gguf", "q8_0"), ("onnx", "fp32")])
def test_export_keeps_the_models_context_length(tiny_run, tiny_info, tmp_path, fmt, quantize):
    from fcot.models.edge import load_edge

    out = export_run(tiny_run, tiny_info, fmt, quantize, tmp_path / f"tiny.{fmt}")
    positions = json.loads((tiny_run / "config.json").read_text(encoding="utf-8"))["max_position_embeddings"]
    assert load_edge(out).context_length == positions == 1024


def test_gguf_tensors_read_back_exactly(tiny_run, tiny_info, tmp_path):
    """transformers' own GGUF reader (which undoes llama.cpp's q/k permutation) gets the same logits from f32."""
    import torch
    from transformers import AutoModelForCausalLM

    from fcot.models.loading import load_model

    out = export_run(tiny_run, tiny_info, "gguf", "f32", tmp_path / "tiny.gguf")
    original = load_model(tiny_run)
    read_back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=out.name)
    ids = original.tokenizer("There were 12 birds on a tree ###", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(original.model(ids).logits, read_back(ids).logits)


BLOCK_TORCH = "import sys; sys.modules['torch'] = sys.modules['transformers'] = None; from fcot.cli import main; main()"


@pytest.mark.parametrize("fmt, quantize", [("gguf", "q8_0"), ("onnx", "int8")])
def test_cli_export_then_eval_without_torch(fcot, tiny_run, tmp_path, fmt, quantize):
    out = tmp_path / ("tiny.gguf" if fmt == "gguf" else "tiny-onnx")
    result = fcot("export", tiny_run, "--format", fmt, "--quantize", quantize, "--out", out, "--parity", "2",
                  "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 2 and parity_path(out).is_file()
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH, "eval", str(out), "--limit", "2", "--json",
                           "--out", str(tmp_path / "eval")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["task"], result["template"], result["n"]) == ("multiarith", "ft_cot_token", 2)
    assert f"-{fmt}-{quantize}" in result["file"] and result["precision"].startswith(fmt)


@pytest.mark.parametrize("args, message", [
    (["--format", "tflite"], "--format 'tflite': unknown"),
    (["--format", "gguf", "--quantize", "int8"], "--quantize 'int8': not available for gguf"),
    (["--format", "onnx", "--quantize", "q8_0"], "--quantize 'q8_0': not available for onnx"),
    (["--format", "gguf", "--out", "student.bin"], "--out student.bin: a GGUF file's name ends in .gguf"),
])
def test_cli_refuses_bad_options(fcot, tiny_run, args, message):
    result = fcot("export", tiny_run, *args)
    assert result.code == 2 and result.stderr.startswith(f"error: {message}") and len(result.stderr.splitlines()) == 1


def test_cli_refuses_a_folder_that_is_no_run(fcot, tmp_path):
    result = fcot("export", tmp_path, "--format", "gguf")
    assert result.code == 2 and "not an fcot train run" in result.stderr and len(result.stderr.splitlines()) == 1


def test_cli_export_on_a_full_disk_is_one_line_and_keeps_no_partial_file(tiny_run, tmp_path, monkeypatch, capsys):
    import gguf
    from full_disk import no_space, one_storage_error

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", no_space)
    out = tmp_path / "tiny.gguf"
    argv = ["export", str(tiny_run), "--format", "gguf", "--quantize", "q8_0", "--out", str(out), "--parity", "0"]
    line = one_storage_error(argv, capsys)
    assert line.startswith(f"error: {out}: the q8_0 GGUF export could not be written (No space left on device); ")
    assert list(tmp_path.iterdir()) == []  # neither the export nor its temporary file


@pytest.mark.slow
def test_cli_export_interrupted_during_parity_keeps_the_export_and_resumes(tiny_run, tmp_path):
    import signal
    import time

    out = tmp_path / "tiny.gguf"
    args = ["export", str(tiny_run), "--format", "gguf", "--quantize", "f16", "--out", str(out), "--parity", "180",
            "--threads", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "fcot", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # into the parity check
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if line.startswith(("interrupted:", "error:", "Traceback"))]
    assert proc.returncode == 130 and lines == [f"interrupted: the export is saved at {out}; its parity check did not "
                                                f"finish; resume with: fcot {' '.join(args)}"], stderr
    done = subprocess.run([sys.executable, "-m", "fcot", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(parity_path(out).read_text(encoding="utf-8"))["n"] == 180
