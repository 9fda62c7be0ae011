"""A GGUF export decoded continuously batched by llama.cpp: sequences that join and leave a running batch, and a
batch of evaluation prompts, get exactly what each gets alone."""

from __future__ import annotations

import pytest
from batching import run_calls

from fcot.errors import ContextTooLong
from fcot.export import export_run
from fcot.models import GenParams
from fcot.models.completions import EdgeCompletions
from fcot.models.continuous import ContinuousBatcher
from fcot.models.edge import load_edge
from fcot.models.llama_rows import LlamaRows

PROMPTS = [f"Q: {i} " + "apples and pears " * (i * 3 % 7) for i in range(10)]  # prompts of different lengths


@pytest.fixture(scope="module")
def gguf(tiny_run, tiny_info, tmp_path_factory):
    path = export_run(tiny_run, tiny_info, "gguf", "f16", tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    return load_edge(path, threads=1)


def test_requests_joining_a_running_batch_get_their_greedy_text_alone(gguf):
    params = [GenParams(max_tokens=4 + (i * 5) % 13) for i in range(len(PROMPTS))]  # leaving at different steps
    alone = [gguf.complete(p, q.max_tokens) for p, q in zip(PROMPTS, params)]
    batcher = ContinuousBatcher(LlamaRows(gguf, max_batch=3))
    outs = run_calls(batcher, [(p, q, 0.001 * (i % 3)) for i, (p, q) in enumerate(zip(PROMPTS, params))])
    assert [o.texts[0] for o in outs] == [a.text for a in alone] and len({a.text for a in alone}) > 1
    assert [o.completion_tokens for o in outs] == [a.new_tokens for a in alone]
    assert batcher.largest_batch == 3  # full, never over
    assert sorted(batcher.engine.free) == [0, 1, 2] and not batcher.engine.rows  # every sequence's cells given back


def test_an_evaluation_batch_decodes_together_in_order(gguf):
    params = GenParams(max_tokens=9, stop=("pears",))
    alone = [gguf.complete(p, params.max_tokens, params.stop) for p in PROMPTS]
    done, student = [], EdgeCompletions(gguf)
    assert student.complete(PROMPTS[:2], params, batch_size=1) == alone[:2] and student._batcher is None  # as asked
    outs = student.complete(PROMPTS, params, progress=done.append)
    assert outs == alone and student._batcher.largest_batch == len(PROMPTS)
    assert sum(done) == len(PROMPTS)


def test_sampled_sequences_and_the_cache_budget(gguf):
    per_token = 2 * 2 * 2 * 16 * 2  # keys and values, 2 layers, 2 KV heads of 16 dimensions, f16
    rows = LlamaRows(gguf, max_batch=4, cache_bytes=4 * 300 * per_token)
    assert rows.context_length == 256  # each sequence's share of the budget, in llama.cpp's steps
    batcher = ContinuousBatcher(rows)
    with pytest.raises(ContextTooLong, match="maximum context length is 256 tokens"):
        batcher.check_length("apples " * 300, 4)
    sampled, greedy = run_calls(batcher, [("Q: a", GenParams(max_tokens=5, temperature=1.0, n=3), 0),
                                    ("Q: b", GenParams(max_tokens=5, n=2), 0)])
    assert len(sampled.texts) == 3 and set(sampled.finish_reasons) <= {"length", "stop"}  # sampling may pick EOS
    assert greedy.texts == [gguf.complete("Q: b", 5).text] * 2
    # queued before the worker starts, so admitted in one step: n sampled choices are n rows, n greedy ones one
    sampled_pairs = ContinuousBatcher(rows)
    assert [len(p) for p in sampled_pairs.complete(["Q: a", "Q: b"], GenParams(5, temperature=1.0, n=2))] == [2, 2]
    assert sampled_pairs.largest_batch == 4
    greedy_triples = ContinuousBatcher(rows)
    assert [len(p) for p in greedy_triples.complete(["Q: a", "Q: b"], GenParams(5, n=3))] == [1, 1]
    assert greedy_triples.largest_batch == 2
