"""`fcot serve` end to end: a trained run answers in its trained format behind an API key; bad flags are one line."""

from __future__ import annotations

import httpx
import openai
import pytest
import torch
from serve_helpers import API_KEY, ONE_THREAD, multiarith_train, serve_in_subprocess
from tiny_lm import rationale


def test_serve_a_run_with_the_key_from_the_environment(run_dir, shared_data, tmp_path):
    sample = multiarith_train(shared_data, 1)[0]
    log = tmp_path / "serve.log"
    with serve_in_subprocess([str(run_dir), "--device", "cpu"], log, {**ONE_THREAD, "FCOT_API_KEY": API_KEY}) as url:
        assert "multiarith questions, template ft_cot_token" in log.read_text()
        assert httpx.get(f"{url}/models").status_code == 401
        client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
        (model,) = client.models.list().data
        question = [{"role": "user", "content": sample["question"]}]
        out = client.chat.completions.create(model=model.id, messages=question, temperature=0)
        assert out.choices[0].message.content == f"{rationale(sample)}\n\nAnswer: {sample['answer']}"
        streamed = client.chat.completions.create(model=model.id, messages=question, temperature=0, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed) == out.choices[0].message.content


@pytest.mark.parametrize("flags, names", [
    (["--port", "70000"], "--port 70000"),
    (["--port", "-1"], "--port -1"),
    (["--host", "no such host"], "--host 'no such host'"),
    (["--host", "192.0.2.1"], "--host 192.0.2.1"),  # a valid address, but not this machine's
    (["--device", "cuda:7"], "device 'cuda:7'"),  # no such GPU, or no CUDA at all
    pytest.param(["--device", "cuda"], "device 'cuda'", marks=pytest.mark.skipif(
        torch.cuda.is_available(), reason="a CUDA GPU is here")),
    (["--device", "gpu"], "device 'gpu'"),
])
def test_bad_flags_are_one_error_line(fcot, run_dir, flags, names):
    result = fcot("serve", str(run_dir), *flags, env=ONE_THREAD, timeout=120)
    assert result.code == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and names in line, line
    if "--host" in flags:
        assert "--port" not in line


def test_eval_through_an_endpoint_scores_as_local_evaluation(run_dir, fcot, tmp_path):
    """`fcot eval RUN --base-url` sends the run's prompts to a served copy of it and scores the answers exactly
    as `fcot eval RUN` does: same prompts, stop phrase, budget and greedy decoding."""
    import json

    question = ["--split", "train", "--limit", "6", "--json"]
    local = fcot("eval", run_dir, *question, "--precision", "fp32", "--out", tmp_path / "local", env=ONE_THREAD)
    assert local.code == 0, local.stderr
    log = tmp_path / "serve.log"
    with serve_in_subprocess([str(run_dir), "--device", "cpu", "--precision", "fp32"], log, ONE_THREAD) as url:
        served = fcot("eval", run_dir, *question, "--base-url", url, "--model", run_dir.name,
                      "--out", tmp_path / "served", env=ONE_THREAD)
    assert served.code == 0, served.stderr
    mine, theirs = json.loads(local.stdout), json.loads(served.stdout)
    assert 0 < mine["accuracy"] == theirs["accuracy"] and theirs["precision"] == f"served by {url}"
    answers = [json.loads(open(r["file"]).read())["data"] for r in (mine, theirs)]
    assert answers[0].keys() == answers[1].keys() and len(answers[0]) == 6
    for i, rows in answers[0].items():
        assert (rows[0]["prompt"], rows[0]["completion"]) == (answers[1][i][0]["prompt"], answers[1][i][0]["completion"])


def test_eval_model_without_base_url_is_one_error_line(run_dir, fcot):
    result = fcot("eval", run_dir, "--model", "run", "--limit", "1")
    assert result.code == 2 and result.stderr.strip() == (
        "error: --model names the model an endpoint serves; add --base-url, or drop --model")
