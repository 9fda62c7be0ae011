"""The OpenAI-compatible server, driven by the official client over real HTTP."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest


@pytest.fixture
def client(served_app):
    return openai.OpenAI(base_url=served_app[0], api_key="unused", max_retries=0)


def test_models_and_completions(client):
    assert [m.id for m in client.models.list().data] == ["tiny"]
    out = client.completions.create(model="tiny", prompt="Q: Tom has 3 apples.\nA:", max_tokens=6, temperature=0)
    (choice,) = out.choices
    assert choice.index == 0 and choice.finish_reason in ("length", "stop") and isinstance(choice.text, str)
    assert out.usage.prompt_tokens > 0 and 0 < out.usage.completion_tokens <= 6
    again = client.completions.create(model="tiny", prompt="Q: Tom has 3 apples.\nA:", max_tokens=6, temperature=0)
    assert again.choices[0].text == choice.text  # greedy is deterministic
    many = client.completions.create(model="tiny", prompt=["Q: a", "Q: b b b"], max_tokens=4, temperature=0.9, n=3)
    assert [c.index for c in many.choices] == list(range(6))


def test_stop_strings_cut_the_text(client):
    free = client.completions.create(model="tiny", prompt="Q: 12 birds", max_tokens=24, temperature=0).choices[0]
    assert len(free.text) > 2
    stop = free.text[len(free.text) // 2:][:2]
    cut = client.completions.create(model="tiny", prompt="Q: 12 birds", max_tokens=24, temperature=0,
                                    stop=[stop]).choices[0]
    assert cut.finish_reason == "stop" and stop not in cut.text and free.text.startswith(cut.text)


def test_chat_uses_the_chat_template(client):
    out = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Q: 3 + 5?"}],
                                         max_tokens=5, temperature=0, n=2)
    assert [c.index for c in out.choices] == [0, 1] and all(c.message.role == "assistant" for c in out.choices)
    # the templated input is longer than the raw text: "<user>Q: 3 + 5?\n<assistant>"
    raw = client.completions.create(model="tiny", prompt="Q: 3 + 5?", max_tokens=1, temperature=0)
    assert out.usage.prompt_tokens > raw.usage.prompt_tokens


def test_errors_are_openai_shaped(client, served_app):
    with pytest.raises(openai.NotFoundError) as missing:
        client.completions.create(model="gpt-4", prompt="x", max_tokens=2)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.completions.create(model="tiny", prompt="x", max_tokens=1100)
    assert too_long.value.code == "context_length_exceeded" and "1024" in too_long.value.message
    bad = httpx.post(f"{served_app[0]}/completions", json={"prompt": "x", "max_tokens": -1})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_tokens"


def test_concurrent_requests_are_batched_and_match_single_ones(served_app):
    async def go():
        client = openai.AsyncOpenAI(base_url=served_app[0], api_key="unused", max_retries=0)
        prompts = [f"Q: {i} apples and {i + 1} birds" for i in range(6)]
        together = await asyncio.gather(*(client.completions.create(
            model="tiny", prompt=p, max_tokens=5, temperature=0) for p in prompts))
        alone = [await client.completions.create(model="tiny", prompt=p, max_tokens=5, temperature=0)
                 for p in prompts[:2]]
        await client.close()
        return [r.choices[0].text for r in together], [r.choices[0].text for r in alone]

    together, alone = asyncio.run(go())
    assert served_app[1].state.batcher.largest_batch > 1
    assert together[:2] == alone  # left-padded batches give the same greedy text
