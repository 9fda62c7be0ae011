"""Bad input and permanent failures: one `error:` line, exit code 2, nothing silently dropped."""

from __future__ import annotations

import socket

from teach_outputs import output


def assert_one_error(result, *fragments: str) -> str:
    assert result.code == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def base(url: str, tmp_path, *extra: str) -> list[str]:
    return ["teach", "--task", "multiarith", "--limit", "3", "--base-url", url, "--out", str(tmp_path),
            "--cache", str(tmp_path / "c.sqlite3"), "--backoff", "0.01", "--max-retries", "1", *extra]


def test_unreachable_base_url(fcot, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    result = fcot(*base(f"http://127.0.0.1:{port}/v1", tmp_path, "--teacher", "openai:m"))
    assert_one_error(result, f"cannot reach http://127.0.0.1:{port}/v1", "--base-url")


def test_wrong_key_unknown_model_and_missing_key(fcot, serve_faults, tmp_path):
    server = serve_faults(api_key="sk-right", models=("m",))
    wrong = fcot(*base(server.url, tmp_path, "--teacher", "openai:m"), env={"OPENAI_API_KEY": "sk-wrong"})
    line = assert_one_error(wrong, "$OPENAI_API_KEY was rejected (401)")
    assert "sk-wrong" not in line
    unknown = fcot(*base(server.url, tmp_path, "--teacher", "openai:nope"), env={"OPENAI_API_KEY": "sk-right"})
    assert_one_error(unknown, "model 'nope' not found (404")
    missing = fcot("teach", "--task", "multiarith", "--teacher", "openai:gpt-4o-mini", "--out", str(tmp_path),
                   env={"OPENAI_API_KEY": ""})
    assert_one_error(missing, "$OPENAI_API_KEY is not set")
    assert not (tmp_path / "completion_data").exists()


def test_prompt_over_context(fcot, serve_faults, tmp_path):
    server = serve_faults(context_chars=40)
    result = fcot(*base(server.url, tmp_path, "--teacher", "openai:m"))
    assert_one_error(result, "3 of 3 samples failed", "context_length_exceeded")


def test_permanent_failures_are_reported_and_retried_alone(fcot, serve_faults, tmp_path, shared_data):
    import json

    train = json.loads((shared_data / "split" / "multiarith__default.json").read_text())["train"][:6]
    questions = {s["sample_index"]: s["question"] for s in
                 json.loads((shared_data / "dataset" / "multiarith.json").read_text())["data"]}
    doomed = train[1], train[4]
    server = serve_faults(failing=tuple(questions[i] for i in doomed))
    args = base(server.url, tmp_path, "--teacher", "openai:m", "--limit", "6")
    first = fcot(*args)
    line = assert_one_error(first, "2 of 6 samples failed permanently", f"sample_index {doomed[0]}, {doomed[1]}",
                            "re-run the same command")
    assert "500" in line
    partial = output(tmp_path, "m", "multiarith")
    assert sorted(map(int, partial["data"])) == sorted(set(train) - set(doomed))
    assert partial["metadata"]["complete"] is False and partial["metadata"]["failed_samples"] == sorted(doomed)
    server.config.failing = ()
    sent = len(server.attempts)
    second = fcot(*args)
    assert second.code == 0, second.stderr
    retried = server.attempts[sent:]
    assert len(retried) == 4 and all(any(questions[i] in a["prompt"] for i in doomed) for a in retried)
    final = output(tmp_path, "m", "multiarith")
    assert sorted(map(int, final["data"])) == sorted(train) and final["metadata"]["complete"] is True
