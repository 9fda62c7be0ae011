"""`fcot teach` end to end against a real OpenAI-compatible server on 127.0.0.1 (replay, faults, modes)."""

from __future__ import annotations

import json
from collections import Counter

from teach_outputs import output

from fcot.formats import COMPLETION_FIELDS

PAPER_METADATA = {"dataset_key", "base_model", "finetune_key", "train_key", "prediction_template"}


def teach_args(url: str, out, cache, *extra: str) -> list[str]:
    return ["teach", "--base-url", url, "--out", str(out), "--cache", str(cache), "--backoff", "0.05", *extra]


def test_replay_reproduces_recorded_file_and_rerun_sends_nothing(fcot, serve_faults, recorded, shared_data, tmp_path):
    reference, answers = recorded("addsub")
    server = serve_faults(recorded=answers, api_key="sk-test")
    args = teach_args(server.url, tmp_path, tmp_path / "c.sqlite3", "--task", "addsub", "--teacher",
                      "openai:text-davinci-002", "--split", "all", "-j", "32", "--data-dir", str(shared_data))
    env = {"OPENAI_API_KEY": "sk-test"}
    first = fcot(*args, env=env)
    assert first.code == 0, first.stderr
    written = output(tmp_path, "text-davinci-002", "addsub")
    assert written["data"] == reference["data"]  # byte-equal strings, both steps, every sample
    assert {k: written["metadata"][k] for k in PAPER_METADATA} == reference["metadata"]
    assert written["metadata"]["usage"]["requests"] == 2 * 395 and written["metadata"]["complete"] is True
    assert written["metadata"]["estimated_cost_usd"] > 0
    assert "sk-test" not in (tmp_path / "c.sqlite3").read_bytes().decode("latin-1")
    assert "sk-test" not in json.dumps(written) + first.stdout + first.stderr
    sent = len(server.attempts)
    assert sent == 2 * 395
    again = fcot(*args, env=env)
    assert again.code == 0, again.stderr
    assert len(server.attempts) == sent  # everything came from the cache
    assert output(tmp_path, "text-davinci-002", "addsub")["data"] == reference["data"]


def test_thirty_percent_faults_complete(fcot, serve_faults, tmp_path):
    server = serve_faults(latency=0.01, fault_rate=0.3, slow_seconds=2.0)
    result = fcot(*teach_args(server.url, tmp_path, tmp_path / "c.sqlite3", "--task", "multiarith", "--teacher",
                              "openai:m", "--limit", "40", "--timeout", "0.5", "--max-retries", "10", "-j", "8"))
    assert result.code == 0, result.stderr
    faults = Counter(a["fault"] for a in server.attempts)
    assert sum(v for k, v in faults.items() if k) >= 15 and len(faults) == 6  # every fault kind happened
    data = output(tmp_path, "m", "multiarith")["data"]
    assert len(data) == 40 and all(len(rows) == 1 for rows in data.values())
    assert all(tuple(rows[0]) == COMPLETION_FIELDS for rows in data.values())
    assert "retries" in result.stderr


def test_diverse_reasoning_uses_n_and_falls_back(fcot, serve_faults, tmp_path):
    for support_n, out in ((True, tmp_path / "n"), (False, tmp_path / "single")):
        server = serve_faults(support_n=support_n)
        result = fcot(*teach_args(server.url, out, tmp_path / f"{support_n}.sqlite3", "--task", "gsm8k", "--teacher",
                                  "openai:m", "--limit", "5", "--samples", "4", "--temperature", "0.7"))
        assert result.code == 0, result.stderr
        written = output(out, "m", "gsm8k", "zs_cot_t70_d4")
        assert written["metadata"]["samples"] == 4 and written["metadata"]["temperature"] == 0.7
        for rows in written["data"].values():
            assert [r["completion_index"] for r in rows] == [0, 1, 2, 3]
            assert len({r["reasoning_completion"] for r in rows}) == 4
        step1 = [a for a in server.attempts if a["prompt"].endswith("step by step.")]
        if support_n:
            assert len(step1) == 5 and {a["n"] for a in step1} == {4}
        else:
            assert len(step1) == 5 + 5 * 3  # one n=4 request, then one request per sample


def test_chat_mode_and_few_shot_prompt(fcot, serve_faults, tmp_path, shared_data):
    server = serve_faults()
    result = fcot(*teach_args(server.url, tmp_path, tmp_path / "c.sqlite3", "--task", "coin_flip", "--teacher",
                              "openai:m", "--limit", "3", "--chat"))
    assert result.code == 0, result.stderr
    assert {a["path"] for a in server.attempts} == {"/v1/chat/completions"}
    assert output(tmp_path, "m", "coin_flip")["metadata"]["chat"] is True
    result = fcot(*teach_args(server.url, tmp_path, tmp_path / "c.sqlite3", "--task", "coin_flip", "--teacher",
                              "openai:m", "--limit", "3", "--prompt", "fs_cot"))
    assert result.code == 0, result.stderr
    rows = [r for rows in output(tmp_path, "m", "coin_flip", "fs_cot")["data"].values() for r in rows]
    few_shot = json.loads((shared_data / "few_shot_cot_prompts.json").read_text())["coin_flip"]["prompt"]
    assert all(r["prompt"].startswith(few_shot) and r["prompt"].endswith("\nA:") for r in rows)


def test_batch_api_requeues_failed_lines(fcot, serve_faults, tmp_path):
    server = serve_faults(fault_rate=0.3)
    result = fcot(*teach_args(server.url, tmp_path, tmp_path / "c.sqlite3", "--task", "svamp", "--teacher",
                              "openai:gpt-4o-mini", "--limit", "20", "--batch", "--batch-poll", "0.05"))
    assert result.code == 0, result.stderr
    assert len(server.batches) >= 3  # step 1, step 2, and at least one re-queue of failed lines
    assert all(a.get("batch") for a in server.attempts)  # nothing went through the synchronous endpoint
    written = output(tmp_path, "gpt-4o-mini", "svamp")
    assert len(written["data"]) == 20 and written["metadata"]["batch"] is True


def test_recorded_teacher_replays_bundled_completions(fcot, recorded, tmp_path):
    reference, _ = recorded("multiarith")
    result = fcot("teach", "--task", "multiarith", "--teacher", "recorded:text-davinci-002", "--split", "all",
                  "--out", str(tmp_path), "--cache", str(tmp_path / "c.sqlite3"))
    assert result.code == 0, result.stderr
    assert output(tmp_path, "text-davinci-002", "multiarith")["data"] == reference["data"]
