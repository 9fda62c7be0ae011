"""`fcot serve EXPORT`: a tiny run's GGUF and ONNX exports answer task-aware over the OpenAI API, without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import openai
import pytest
from serve_helpers import serve_in_thread

from fcot.cli.serve import load_served
from fcot.export import export_run
from fcot.serve import create_app

NO_TORCH = """
import json, sys
from starlette.testclient import TestClient
from fcot.cli.serve import load_served
from fcot.serve import create_app

generator, task = load_served(sys.argv[1], threads=1)
client = TestClient(create_app(generator, task=task))
question = {"messages": [{"role": "user", "content": sys.argv[2]}], "temperature": 0}
chat = client.post("/v1/chat/completions", json=question).json()
streamed = client.post("/v1/chat/completions", json={**question, "stream": True}).text
print(json.dumps({"fcot": chat["choices"][0]["fcot"], "done": streamed.endswith("data: [DONE]\\n\\n"),
                  "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}))
"""


@pytest.fixture(scope="module", params=[("gguf", "f16"), ("onnx", "fp32")], ids=["gguf", "onnx"])
def export(request, tiny_run, tiny_info, tmp_path_factory):
    fmt, quantize = request.param
    return export_run(tiny_run, tiny_info, fmt, quantize, tmp_path_factory.mktemp("export") / f"tiny.{fmt}")


@pytest.fixture(scope="module")
def client(export):
    generator, task = load_served(str(export), threads=1)
    with serve_in_thread(create_app(generator, task=task)) as url:
        yield openai.OpenAI(base_url=url, api_key="none", max_retries=0)


def readable(sample: dict) -> str:
    return f"{sample['rationale']}\n\nAnswer: {sample['answer']}"


def test_completion_and_task_aware_chat(client, export, known_samples):
    (model,) = client.models.list().data
    assert model.id == export.name and model.fcot == {"task": "multiarith", "template": "ft_cot_token", "stop": ["END"]}
    sample = known_samples[0]
    raw = client.completions.create(model=model.id, prompt=f"{sample['question']} ###", max_tokens=40, temperature=0,
                                    stop=["END"]).choices[0]
    assert raw.text.strip() == f"{sample['rationale']} --> {sample['answer']}" and raw.finish_reason == "stop"
    for sample in known_samples:
        out = client.chat.completions.create(model=model.id, messages=[{"role": "user", "content": sample["question"]}],
                                             temperature=0)
        (choice,) = out.choices
        assert choice.message.content == readable(sample) and choice.finish_reason == "stop"
        assert choice.fcot["answer"] == sample["answer"] and choice.fcot["rationale"] == sample["rationale"]
        assert out.usage.completion_tokens > 0


def test_streamed_chat_gives_the_same_reply_in_pieces(client, export, known_samples):
    sample = known_samples[1]
    chunks = list(client.chat.completions.create(messages=[{"role": "user", "content": sample["question"]}],
                                                 model=export.name, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == readable(sample)
    (last,) = [c.choices[0] for c in chunks if c.choices and c.choices[0].finish_reason]
    assert last.finish_reason == "stop" and last.fcot["answer"] == sample["answer"]
    assert chunks[-1].usage.completion_tokens > 0


def test_sampled_completions_stream_every_choice(client, export):
    stream = client.completions.create(model=export.name, prompt="Q: a", max_tokens=6, temperature=0.9, n=2,
                                       stream=True)
    finished = [c.choices[0].index for c in stream if c.choices[0].finish_reason]
    assert sorted(finished) == [0, 1]
    sampled = client.completions.create(model=export.name, prompt=["Q: a", "Q: b"], max_tokens=4, temperature=1.5, n=3)
    assert len(sampled.choices) == 6 and sampled.usage.completion_tokens > 0


def test_a_prompt_over_the_context_is_an_openai_error(client, export):
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model=export.name, prompt="apples " * 3000, max_tokens=4)
    assert (refused.value.status_code, refused.value.code) == (400, "context_length_exceeded")
    assert client.completions.create(model=export.name, prompt="Q: a", max_tokens=2).choices  # still serving


def test_served_without_importing_torch(export, known_samples):
    sample = known_samples[2]
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, str(export), sample["question"]], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["fcot"]["answer"] == sample["answer"] and result["done"]
    assert not result["torch"] and not result["transformers"]


def test_cli_refuses_torch_flags_for_an_export(fcot, export):
    result = fcot("serve", export, "--port", "0", "--device", "cuda")
    assert result.code == 2 and result.stderr.startswith("error: --device/--precision:")
    assert len(result.stderr.splitlines()) == 1


def test_eval_through_llama_cpp_server_scores_as_the_local_export(tiny_run, tiny_info, known, fcot, tmp_path):
    """`fcot eval EXPORT --base-url` against llama.cpp's own OpenAI-compatible server (`llama_cpp.server`) of the
    GGUF export: the same prompts and stop phrase as evaluating the export here, the same answers."""
    import socket
    import time

    import httpx

    gguf = export_run(tiny_run, tiny_info, "gguf", "f16", tmp_path / "tiny.gguf")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "llama.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "tiny",
                               "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/models").raise_for_status()
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "llama.log").read_text()
                time.sleep(0.2)
        question = ["--limit", str(known), "--max-new-tokens", "40", "--json"]
        served = fcot("eval", gguf, *question, "--base-url", url, "--model", "tiny", "--out", tmp_path / "served")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    local = fcot("eval", gguf, *question, "--threads", "1", "--out", tmp_path / "local")
    assert served.code == 0 and local.code == 0, served.stderr + local.stderr
    mine, theirs = json.loads(local.stdout), json.loads(served.stdout)
    assert mine["accuracy"] == theirs["accuracy"] == 1.0
    answers = [json.loads(open(r["file"]).read())["data"] for r in (mine, theirs)]
    assert {i: (r[0]["prompt"], r[0]["completion"]) for i, r in answers[0].items()} == {
        i: (r[0]["prompt"], r[0]["completion"]) for i, r in answers[1].items()}
