"""bf16 training on CPU attends in fp32: same outputs and gradients as fp32 attention, masks kept, swap undone."""

from __future__ import annotations

import pytest
import torch

from fcot.models import load_model, save_tiny_model
from fcot.student.attention import FP32_SDPA, fp32_attention


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
    with fp32_attention(model, precision), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        if precision == "bf16":
            assert model.config._attn_implementation == FP32_SDPA
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
        (logits[mask.bool()] ** 2).mean().backward()
    return logits.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_fp32_attention_matches_sdpa_and_is_undone(tiny_llama):
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


def test_fp32_attention_keeps_the_padding_mask(tiny_llama):
    """A left-padded row scores like the same row unpadded: the swapped-in attention still gets SDPA's masks."""
    model = tiny_llama
    ids, mask = _batch()
    with torch.no_grad(), fp32_attention(model, "bf16"):
        padded = model(input_ids=ids, attention_mask=mask).logits[1, 3:]
        alone = model(input_ids=ids[1:, 3:], attention_mask=mask[1:, 3:]).logits[0]
    assert torch.allclose(padded, alone, atol=1e-4)
