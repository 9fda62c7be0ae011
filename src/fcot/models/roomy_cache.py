"""A key/value cache whose decoding steps write in place.

transformers' `DynamicCache` appends each step's keys and values with `torch.cat`, copying every layer's whole
cache into a fresh tensor; with 32 rows in fp32 that copying took about a third of a decoding step. Here each layer
keeps its keys and values at the start of buffers with `ROOM` spare columns and copies only when the room runs out
or the cache was replaced from outside (rows dropped or joined by `fcot.models.torch_rows`).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

ROOM = 32  # spare columns after a layer's tokens


class RoomyLayer(DynamicLayer):
    """A `DynamicLayer` whose `keys` and `values` are views into buffers with room to grow."""

    buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
               ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        length = self.get_seq_length()
        end = length + key_states.shape[-2]
        if not self._has_room(length, end, key_states):
            shape = (*key_states.shape[:2], end + ROOM, key_states.shape[-1])
            self.buffers = (key_states.new_empty(shape), value_states.new_empty(shape))
            if length:
                self.buffers[0][..., :length, :], self.buffers[1][..., :length, :] = self.keys, self.values
        keys, values = self.buffers
        keys[..., length:end, :], values[..., length:end, :] = key_states, value_states
        self.keys, self.values = keys[..., :end, :], values[..., :end, :]
        return self.keys, self.values

    def _has_room(self, length: int, end: int, key_states: torch.Tensor) -> bool:
        """Whether the buffers still hold this layer's cache (not replaced since) and fit `end` columns."""
        if self.buffers is None:
            return False
        keys = self.buffers[0]
        return (end <= keys.shape[-2] and keys.shape[:2] == key_states.shape[:2]
                and (length == 0 or self.keys.data_ptr() == keys.data_ptr()))


def roomy_cache(config: Any) -> DynamicCache:
    """transformers' empty `DynamicCache` for a model of `config`, its full-attention layers `RoomyLayer`s (sliding
    window and other layer kinds stay as transformers makes them)."""
    cache = DynamicCache(config=config)
    cache.layers = [RoomyLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache
