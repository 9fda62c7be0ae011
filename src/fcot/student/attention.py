"""Attention for training on CPU: grouped key/value heads shared inside SDPA, and in bf16, SDPA on fp32 inputs.

transformers copies each key/value head once per query head before SDPA unless the call has no mask, though
PyTorch's CPU kernel takes masked grouped heads as they are (`enable_gqa`); sharing them saves about 5% of a
training step of SmolLM2-135M (3 key/value heads for 9 query heads), with outputs unchanged.

PyTorch's CPU flash-attention backward is about 3x slower in bf16 than in fp32 (SmolLM2-135M shapes, one thread:
93 vs 31 ms per layer for 8 samples of 137 tokens), while the projections around it gain from bf16. So under a
bf16 autocast on CPU, attention alone runs in fp32: faster, and no less precise. Registered with transformers as
its own implementation (with SDPA's masks), switched on for training and off again before the model is saved.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import sdpa_mask

FP32_SDPA = "fcot_sdpa_fp32"
SHARED_KV_HEADS = "TRANSFORMERS_SDPA_FORCE_GQA"  # transformers' switch: SDPA's own grouped-query attention


def fp32_sdpa_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                        attention_mask: torch.Tensor | None, **kwargs: Any) -> tuple[torch.Tensor, Any]:
    """transformers' SDPA attention with fp32 inputs (masks and T5's position bias too) and autocast off; the
    output in the query's dtype."""

    def fp32(value: Any) -> Any:
        return value.float() if isinstance(value, torch.Tensor) and value.is_floating_point() else value

    with torch.autocast(query.device.type, enabled=False):
        out, weights = sdpa_attention_forward(module, fp32(query), fp32(key), fp32(value), fp32(attention_mask),
                                              **{name: fp32(arg) for name, arg in kwargs.items()})
    return out.to(query.dtype), weights


AttentionInterface.register(FP32_SDPA, fp32_sdpa_attention)
AttentionMaskInterface.register(FP32_SDPA, sdpa_mask)


@contextmanager
def training_attention(model: Any, precision: str) -> Iterator[None]:
    """Within the block, a model with SDPA attention on CPU shares grouped key/value heads inside SDPA and, training
    in bf16, attends in fp32; elsewhere a no-op. Both are undone on leaving."""
    if model.device.type != "cpu" or getattr(model.config, "_attn_implementation", None) != "sdpa":
        yield
        return
    swap, shared = precision == "bf16", os.environ.get(SHARED_KV_HEADS)
    os.environ[SHARED_KV_HEADS] = "1"
    if swap:
        model.set_attn_implementation(FP32_SDPA)
    try:
        yield
    finally:
        if swap:
            model.set_attn_implementation("sdpa")
        if shared is None:
            os.environ.pop(SHARED_KV_HEADS, None)
        else:
            os.environ[SHARED_KV_HEADS] = shared
