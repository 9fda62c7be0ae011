"""The in-place key/value cache: the same logits as transformers' DynamicCache, steps written without copying."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from fcot.models import load_model, save_tiny_model
from fcot.models.generate import cache_argument, generate
from fcot.models.roomy_cache import ROOM, roomy_cache


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    return load_model(save_tiny_model(tmp_path_factory.mktemp("roomy") / "decoder", "decoder"))


def decode(model, cache, ids, steps, on_step=None):
    """Greedy logits of `steps` tokens after `ids`, one forward pass each, the cache given; `on_step(step, cache)`
    may return the rows to go on with."""
    key, logits = cache_argument(model), []
    with torch.inference_mode():
        for step in range(steps):
            out = model(input_ids=ids, use_cache=True, **{key: cache})
            logits.append(out.logits[:, -1])
            ids = out.logits[:, -1:].argmax(-1)
            rows = on_step(step, cache) if on_step else None
            if rows is not None:
                ids = ids[rows]
    return torch.stack(logits)


def test_steps_match_dynamic_cache_and_write_in_place_until_the_room_runs_out(decoder):
    model = decoder.model
    ids = torch.randint(5, 100, (3, 7))
    buffers = []
    roomy = decode(model, roomy_cache(model.config), ids, ROOM + 3,
                   lambda step, cache: buffers.append(cache.layers[0].buffers[0].data_ptr()))
    assert torch.equal(roomy, decode(model, DynamicCache(config=model.config), ids, ROOM + 3))
    assert len(set(buffers[:ROOM + 1])) == 1  # the prompt's buffer takes ROOM more steps, then one copy
    assert len(set(buffers)) == 2


def test_a_cache_replaced_from_outside_is_copied_into_new_room(decoder):
    model = decoder.model
    ids = torch.randint(5, 100, (3, 7))

    order = torch.tensor([2, 0, 1])

    def reorder(step, cache):  # as fcot.models.torch_rows replaces the cache when rows leave or join
        if step == 2:
            for layer in cache.layers:
                layer.keys, layer.values = layer.keys[order], layer.values[order]
            return order

    reordered = decode(model, roomy_cache(model.config), ids, 6, reorder)
    assert torch.equal(reordered, decode(model, DynamicCache(config=model.config), ids, 6, reorder))


def test_batched_generation_gives_the_tokens_of_one_prompt_at_a_time(decoder):
    prompts = ["3 + 5 =", "Tom has 3 apples and buys 5 more. How many apples does he have?", "Q: x"]
    together, _ = generate(decoder.model, decoder.tokenizer, prompts, max_new_tokens=ROOM + 8, batch_size=3)
    alone = [generate(decoder.model, decoder.tokenizer, [p], max_new_tokens=ROOM + 8)[0][0] for p in prompts]
    assert [g.text for g in together] == [g.text for g in alone]
