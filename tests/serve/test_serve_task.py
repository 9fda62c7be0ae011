"""A trained run served task-aware: chat questions in the trained format, streaming, and the API key."""

from __future__ import annotations

import httpx
import openai
import pytest
from serve_helpers import API_KEY, multiarith_train
from tiny_lm import ANSWERED, rationale


@pytest.fixture
def client(served_run):
    return openai.OpenAI(base_url=served_run[0], api_key=API_KEY, max_retries=0)


@pytest.fixture(scope="module")
def learnt(shared_data):
    return multiarith_train(shared_data, ANSWERED)


def readable(sample: dict) -> str:
    return f"{rationale(sample)}\n\nAnswer: {sample['answer']}"


def test_chat_answers_a_plain_question_in_the_trained_format(client, learnt):
    for sample in learnt:
        out = client.chat.completions.create(model="run", messages=[
            {"role": "system", "content": "ignored: the student learnt single questions"},
            {"role": "user", "content": sample["question"]}], temperature=0)
        (choice,) = out.choices
        assert choice.finish_reason == "stop"  # at the run's stop phrase, END
        assert choice.message.content == readable(sample)
        assert choice.fcot == {"task": "multiarith", "answer": sample["answer"], "rationale": rationale(sample),
                               "completion": f" {rationale(sample)} --> {sample['answer']} "}
    assert client.models.list().data[0].fcot == {"task": "multiarith", "template": "ft_cot_token", "stop": ["END"]}


def test_raw_completions_take_any_prompt(client, learnt):
    sample = learnt[0]
    trained = client.completions.create(model="run", prompt=f"{sample['question']} ###", max_tokens=40,
                                        temperature=0, stop=["END"]).choices[0]
    assert trained.text.strip() == f"{rationale(sample)} --> {sample['answer']}" and not hasattr(trained, "fcot")
    other = client.completions.create(model="run", prompt="Q: anything at all", max_tokens=3, temperature=0)
    assert other.choices[0].finish_reason in ("stop", "length")


def test_streamed_chat_gives_the_same_reply_in_pieces(client, learnt):
    sample = learnt[1]
    chunks = list(client.chat.completions.create(model="run", messages=[{"role": "user", "content": sample["question"]}],
                                                 temperature=0, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == readable(sample)
    (last,) = [c.choices[0] for c in chunks if c.choices and c.choices[0].finish_reason]
    assert last.finish_reason == "stop" and last.fcot["answer"] == sample["answer"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > len(pieces) // 2


def test_streamed_completions_with_n_choices(client):
    stream = client.completions.create(model="run", prompt=["Q: a", "Q: b b"], max_tokens=6, temperature=0.9, n=2,
                                       stream=True)
    texts: dict[int, str] = {}
    finished = []
    for chunk in stream:
        (choice,) = chunk.choices
        texts[choice.index] = texts.get(choice.index, "") + choice.text
        if choice.finish_reason:
            finished.append(choice.index)
    assert sorted(finished) == [0, 1, 2, 3] and set(texts) == {0, 1, 2, 3}


def test_the_api_key_is_required(served_run):
    stranger = openai.OpenAI(base_url=served_run[0], api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        stranger.models.list()
    assert refused.value.code == "invalid_api_key"
    anonymous = httpx.get(f"{served_run[0]}/models")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"


def test_a_question_must_come_last(client):
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="run", messages=[{"role": "user", "content": "Q"},
                                                              {"role": "assistant", "content": "A"}])
    assert bad.value.param == "messages"
