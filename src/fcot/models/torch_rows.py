"""A torch causal LM's rows for continuous batching (`fcot.models.continuous`).

The running sequences' key/value cache is left-padded to a common length, with an attention mask that hides the
padding, and room for the next steps to be written in place (`fcot.models.roomy_cache`); it holds at most
`max_batch` rows and `cache_bytes` of cache (`KV_CACHE_BYTES`, as batched generation). Newcomers are prefilled
together, their cache padded and appended to the batch's; dropped rows leave the cache, and columns no row attends to
any more are cut off.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

from fcot.models.generate import (KV_CACHE_BYTES, cache_argument, inference, kv_bytes_per_token,
                                  stop_token_ids)
from fcot.models.roomy_cache import ROOM, roomy_cache


class TorchRows:
    """Rows of a torch causal LM (`fcot.models.completions.Generator`); forward passes take its lock."""

    def __init__(self, generator: Any, max_batch: int, cache_bytes: int = KV_CACHE_BYTES) -> None:
        import torch

        self.gen, self.max_batch = generator, max_batch
        self.context_length = generator.context_length
        self.ends = stop_token_ids(generator.model, generator.tokenizer)
        self.device = next(generator.model.parameters()).device
        self.tokens_in_flight = max(cache_bytes // kv_bytes_per_token(generator.model), 1)
        self.compute_dtype = generator.compute_dtype
        forward = inspect.signature(generator.model.forward).parameters
        self.last_only = {"logits_to_keep": 1} if "logits_to_keep" in forward else {}  # no head over prompts
        self.cache: Any = None
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=self.device)

    def session(self) -> contextlib.AbstractContextManager:
        """The decoding loop's context: under bf16 one autocast region, so each weight is cast once (not at every
        step); the cast copies stay in memory while the loop runs."""
        return inference(self.device.type, self.compute_dtype, self.gen.model)

    def encode(self, prompt: str) -> list[int]:
        return self.gen.tokenizer(prompt).input_ids

    def decode(self, tokens: list[int]) -> str:
        return self.gen.tokenizer.decode(tokens, skip_special_tokens=True)

    def encode_text(self, text: str) -> list[int]:
        return self.gen.tokenizer(text, add_special_tokens=False).input_ids

    def fits(self, spans: list[int]) -> bool:
        """At most `max_batch` rows, whose cache — each padded to the longest, with its room — stays within the
        budget."""
        return len(spans) <= self.max_batch and len(spans) * (max(spans) + ROOM) <= self.tokens_in_flight

    def prefill(self, prompts: list[list[int]]) -> Any:
        import torch

        padded = self.gen.tokenizer.pad({"input_ids": prompts}, padding_side="left", return_tensors="pt")
        ids, mask = padded["input_ids"].to(self.device), padded["attention_mask"].to(self.device)
        cache = roomy_cache(self.gen.model.config)
        logits = self._forward(ids, mask, (mask.cumsum(-1) - 1).clamp(min=0), cache)
        if self.cache is None:
            self.cache, self.mask = cache, mask
        else:  # both left-padded to the longer length, the newcomers after the running rows
            length = max(self.mask.shape[1], mask.shape[1])
            for old, new in zip(self.cache.layers, cache.layers):
                old.keys = torch.cat([_pad_left(old.keys, length, 2), _pad_left(new.keys, length, 2)])
                old.values = torch.cat([_pad_left(old.values, length, 2), _pad_left(new.values, length, 2)])
            self.mask = torch.cat([_pad_left(self.mask, length, 1), _pad_left(mask, length, 1)])
        return logits

    def step(self, tokens: list[int]) -> Any:
        import torch

        ids = torch.tensor(tokens, dtype=torch.long, device=self.device)[:, None]
        self.mask = torch.cat([self.mask, torch.ones_like(ids)], dim=1)
        return self._forward(ids, self.mask, self.mask.sum(dim=1, keepdim=True) - 1, self.cache)

    def keep(self, rows: list[int]) -> None:
        import torch

        if not rows:
            self.clear()
            return
        index = torch.tensor(rows, dtype=torch.long, device=self.device)
        self.mask = self.mask[index]
        start = int((self.mask.sum(dim=0) > 0).nonzero()[0])  # columns before it are padding in every row
        self.mask = self.mask[:, start:]
        for layer in self.cache.layers:
            layer.keys, layer.values = layer.keys[index, :, start:], layer.values[index, :, start:]

    def clear(self) -> None:
        self.cache, self.mask = None, self.mask[:0, :0]

    def greedy(self, logits: Any) -> list[int]:
        return logits.argmax(dim=-1).tolist()

    def sample(self, logits: Any, row: int, temperature: float, top_p: float) -> int:
        import torch

        probs = torch.softmax(logits[row] / temperature, dim=-1)
        if top_p < 1:
            ordered, order = probs.sort(descending=True)
            outside = ordered.cumsum(-1) - ordered > top_p
            probs = probs.scatter(0, order, ordered.masked_fill(outside, 0))
        return int(torch.multinomial(probs, 1))

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any) -> Any:
        model = self.gen.model
        with self.gen._lock, inference(self.device.type, self.compute_dtype):  # frozen weights: see session()
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                        **{cache_argument(model): cache}, **self.last_only)
        return out.logits[:, -1, :].float()


def _pad_left(tensor: Any, length: int, dim: int) -> Any:
    """tensor with zeros before its entries along dim, up to length."""
    import torch

    missing = length - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)
