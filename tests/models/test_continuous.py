"""Continuous batching: requests that join and leave a running batch get what they would get alone."""

from __future__ import annotations

import pytest
from batching import run_calls

from fcot.models import GenParams, open_student, save_tiny_model
from fcot.models.continuous import ContinuousBatcher
from fcot.models.torch_rows import TorchRows

PROMPTS = [f"question {i} " + "word " * (i * 3 % 11) for i in range(12)]  # prompts of different lengths


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return open_student(save_tiny_model(tmp_path_factory.mktemp("continuous"), "decoder"), threads=1,
                        precision="fp32")


def test_requests_joining_a_running_batch_get_their_greedy_text_alone(student):
    params = [GenParams(max_tokens=5 + (i * 7) % 20) for i in range(len(PROMPTS))]  # leaving at different steps
    alone = [student.complete([p], q)[0] for p, q in zip(PROMPTS, params)]
    batcher = ContinuousBatcher(TorchRows(student, max_batch=4))
    outs = run_calls(batcher, [(p, q, 0.01 * i) for i, (p, q) in enumerate(zip(PROMPTS, params))])
    assert [o.texts[0] for o in outs] == [a.text for a in alone] and len({a.text for a in alone}) > 1
    assert [o.completion_tokens for o in outs] == [a.new_tokens for a in alone]
    assert batcher.largest_batch == 4  # full, never over


def test_the_cache_budget_bounds_the_batch(student):
    from fcot.models.generate import kv_bytes_per_token
    from fcot.models.roomy_cache import ROOM

    params = GenParams(max_tokens=6)
    alone = [student.complete([p], params)[0].text for p in PROMPTS[:6]]
    longest = max(len(student.tokenizer(p).input_ids) for p in PROMPTS[:6]) + params.max_tokens
    budget = 2 * (longest + ROOM) * kv_bytes_per_token(student.model)  # two rows' worth, with their room
    batcher = ContinuousBatcher(TorchRows(student, max_batch=8, cache_bytes=budget))
    outs = run_calls(batcher, [(p, params, 0) for p in PROMPTS[:6]])
    assert [o.texts[0] for o in outs] == alone and batcher.largest_batch == 2


def test_sampled_choices_stop_phrases_and_lengths(student):
    stop = student.complete([PROMPTS[3]], GenParams(max_tokens=12))[0].text[4:7]  # text the model will write
    assert len(stop) == 3
    outs = run_calls(ContinuousBatcher(TorchRows(student, max_batch=8)), [
        (PROMPTS[1], GenParams(max_tokens=6, temperature=1.0, n=3), 0),
        (PROMPTS[3], GenParams(max_tokens=12, stop=(stop,)), 0),
        (PROMPTS[5], GenParams(max_tokens=4, n=2), 0.01),
    ])
    sampled, stopped, greedy = outs
    assert len(sampled.texts) == 3 and sampled.finish_reasons == ["length"] * 3
    assert stopped.finish_reasons == ["stop"] and stop not in stopped.texts[0]
    assert greedy.texts[0] == greedy.texts[1] and greedy.finish_reasons == ["length", "length"]
