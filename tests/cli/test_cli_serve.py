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
