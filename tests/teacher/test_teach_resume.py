"""SIGKILL `fcot teach` at random moments and resume: nothing is lost and no cached request is sent again."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from teach_outputs import output

from fcot.teacher.cache import CompletionCache

QUESTIONS = 60


def test_sigkill_and_resume(serve_faults, tmp_path, shared_data):
    server = serve_faults(latency=0.03, fault_rate=0.1)
    cache = tmp_path / "c.sqlite3"
    cmd = [sys.executable, "-m", "fcot", "teach", "--task", "multiarith", "--teacher", "openai:m", "--limit",
           str(QUESTIONS), "--base-url", server.url, "--out", str(tmp_path), "--cache", str(cache), "-j", "4",
           "--backoff", "0.02", "--timeout", "1", "--save-every", "0.3", "--data-dir", str(shared_data)]
    rng = random.Random(7)
    kills, growth = 0, []
    while kills < 5:
        sent_before = len(server.attempts)
        cached_before = CompletionCache(cache).prompts() if cache.exists() else set()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = sent_before + rng.randint(3, 25)
        while len(server.attempts) < target and proc.poll() is None:
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed; lower the kill targets"
        time.sleep(rng.random() * 0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        time.sleep(0.2)  # let requests already on the wire reach the server log
        resent = [a for a in server.attempts[sent_before:] if a["prompt"] in cached_before]
        assert not resent, f"run {kills} re-sent {len(resent)} cached requests"
        growth.append(len(CompletionCache(cache).prompts()) - len(cached_before))
    assert sum(g > 0 for g in growth) >= 4, growth  # answers received before each kill were kept
    sent_before = len(server.attempts)
    cached_before = CompletionCache(cache).prompts()
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert not [a for a in server.attempts[sent_before:] if a["prompt"] in cached_before]
    written = output(tmp_path, "m", "multiarith")
    assert len(written["data"]) == QUESTIONS and written["metadata"]["complete"] is True
    for key, rows in written["data"].items():
        assert [r["completion_index"] for r in rows] == [0] and rows[0]["sample_index"] == int(key)
    answered = {e["prompt"] for e in server.log}
    assert all(r["prompt"] in answered and r["reasoning_prompt"] in answered
               for rows in written["data"].values() for r in rows)
    assert len(cached_before) < 2 * QUESTIONS  # the last run still had work to do


def test_ctrl_c_writes_partial_results_and_resumes(serve_faults, tmp_path, shared_data):
    server = serve_faults(latency=0.05)
    cache = tmp_path / "c.sqlite3"
    cmd = [sys.executable, "-m", "fcot", "teach", "--task", "gsm8k", "--teacher", "openai:m", "--limit", "300",
           "--base-url", server.url, "--out", str(tmp_path), "--cache", str(cache), "-j", "2",
           "--data-dir", str(shared_data)]
    # Ctrl-C must reach the child even when this suite runs with SIGINT ignored (a background job of a script)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while len(server.attempts) < 30 and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: every answer received is in the teacher cache"), stderr
    assert lines[0].endswith("resume with: fcot " + " ".join(cmd[3:])), lines[0]
    partial = output(tmp_path, "m", "gsm8k")
    assert partial["metadata"]["complete"] is False and 5 <= len(partial["data"]) < 300
    cached, sent = CompletionCache(cache).prompts(), len(server.attempts)
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    assert not [a for a in server.attempts[sent:] if a["prompt"] in cached]
    assert len(output(tmp_path, "m", "gsm8k")["data"]) == 300


def test_batch_run_resumes_polling_the_submitted_batch(serve_faults, tmp_path, shared_data):
    server = serve_faults(hold_batches=True)
    cmd = [sys.executable, "-m", "fcot", "teach", "--task", "svamp", "--teacher", "openai:m", "--limit", "10",
           "--base-url", server.url, "--out", str(tmp_path), "--cache", str(tmp_path / "c.sqlite3"), "--batch",
           "--batch-poll", "0.05", "--data-dir", str(shared_data)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not server.batches and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(0.3)  # polling the held batch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(server.batches) == 1
    server.config.hold_batches = False
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    assert len(server.batches) == 2  # the first batch was polled again, not paid for twice; then step 2
    assert len(output(tmp_path, "m", "svamp")["data"]) == 10


def test_ctrl_c_anywhere_in_the_request_loop_exits_130(serve_faults, tmp_path, shared_data):
    server = serve_faults(latency=0.02)
    rng = random.Random(11)
    for run in range(4):  # after 1 to 60 requests, at a random moment between two of them
        out = tmp_path / str(run)
        cmd = [sys.executable, "-m", "fcot", "teach", "--task", "gsm8k", "--teacher", "openai:m", "--limit", "300",
               "--base-url", server.url, "--out", str(out), "--cache", str(out / "c.sqlite3"), "-j", "4",
               "--data-dir", str(shared_data)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        target = len(server.attempts) + rng.randint(1, 60)
        while len(server.attempts) < target and proc.poll() is None:
            time.sleep(0.001)
        time.sleep(rng.random() * 0.03)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert proc.returncode == 130 and len(lines) == 1 and lines[0].startswith("interrupted:"), (run, stderr)
