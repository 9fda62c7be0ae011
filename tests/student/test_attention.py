"""Training on CPU shares key/value heads inside SDPA and, in bf16, attends in fp32: same outputs and gradients,
masks kept, both undone afterwards."""

from __future__ import annotations

import contextlib
import os

import pytest
import torch

from fcot.models import load_model, save_tiny_model
from fcot.student.attention import FP32_SDPA, SHARED_KV_HEADS, training_attention


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    loaded = load_model(save_tiny_model(tmp_path_factory.mktemp("tiny") / "llama"))
    assert loaded.model.config._attn_implementation == "sdpa"
    return loaded.model


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows, the second left-padded by 3: a wrong or missing mask would change its outputs."""
    ids = torch.randint(3, 300, (2, 12), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0
    return ids, mask


def _logits_and_grads(model, precision: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    ids, mask = _batch()
    model.zero_grad()
    attention = contextlib.nullcontext() if precision == "none" else training_attention(model, precision)
    with attention, torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        if precision == "bf16":
            assert model.config._attn_implementation == FP32_SDPA
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
        (logits[mask.bool()] ** 2).mean().backward()
    return logits.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_training_attention_matches_sdpa_and_is_undone(tiny_llama):
    model = tiny_llama
    fp32_logits, fp32_grads = _logits_and_grads(model, "fp32")
    assert model.config._attn_implementation == "sdpa"
    bf16_logits, bf16_grads = _logits_and_grads(model, "bf16")
    assert model.config._attn_implementation == "sdpa"  # swapped back: a saved model must not name fcot's attention
    mask = _batch()[1].bool()
    # bf16 projections, fp32 attention: close to the fp32 model, padded row included
    assert torch.allclose(bf16_logits[mask], fp32_logits[mask], rtol=0.05, atol=0.05)
    for got, want in zip(bf16_grads, fp32_grads):
        assert torch.allclose(got, want, rtol=0.1, atol=0.05 * want.abs().max().item())


def test_training_attention_keeps_the_padding_mask(tiny_llama):
    """A left-padded row scores like the same row unpadded: the swapped-in attention still gets SDPA's masks."""
    model = tiny_llama
    ids, mask = _batch()
    with torch.no_grad(), training_attention(model, "bf16"):
        padded = model(input_ids=ids, attention_mask=mask).logits[1, 3:]
        alone = model(input_ids=ids[1:, 3:], attention_mask=mask[1:, 3:]).logits[0]
    assert torch.allclose(padded, alone, atol=1e-4)


def test_training_attention_shares_key_value_heads_inside_sdpa(tiny_llama, monkeypatch):
    """The tiny model has 2 key/value heads for 4 query heads: SDPA gets them unrepeated (`enable_gqa`), the
    padded batch's outputs and gradients are unchanged, and transformers' switch is restored afterwards."""
    model = tiny_llama
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(query, key, value, *args, **kwargs):
        calls.append((query.shape[1], key.shape[1], kwargs.get("enable_gqa", False)))
        return sdpa(query, key, value, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    monkeypatch.delenv(SHARED_KV_HEADS, raising=False)
    ids, mask = _batch()
    copied_logits, copied_grads = _logits_and_grads(model, "none")  # outside: transformers copies the heads
    assert calls and all(call == (4, 4, False) for call in calls)
    calls.clear()
    shared_logits, shared_grads = _logits_and_grads(model, "fp32")
    assert calls and all(call == (4, 2, True) for call in calls)
    assert SHARED_KV_HEADS not in os.environ
    assert torch.allclose(shared_logits[mask.bool()], copied_logits[mask.bool()], atol=1e-5)
    assert all(torch.allclose(got, want, atol=1e-5) for got, want in zip(shared_grads, copied_grads))
