"""Continuous batching for a torch causal LM: a sequence joins the running batch between two decoding steps and
leaves it when it finishes, so a new request waits one step, not a whole batch (`fcot serve`).

    batcher = ContinuousBatcher(open_student("runs/ma"), max_batch=32)
    out = await batcher.submit(prompt, GenParams(max_tokens=64))      # the n completions of one prompt
    async for rows in batcher.stream(prompt, params): ...             # its StreamRows after every step

One worker thread owns the batch: the running sequences' key/value cache, left-padded to a common length, and an
attention mask that hides the padding; it holds at most `max_batch` sequences and `cache_bytes` of cache
(`KV_CACHE_BYTES`, as batched generation). Newcomers are prefilled together, their cache padded and appended to the
batch's; finished sequences are dropped from it, and columns no sequence attends to any more are cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from fcot.models.calculator import Calculator
from fcot.models.completions import SERVE_BATCH, GenOutput, GenParams, Generator, _cache_argument
from fcot.models.generate import KV_CACHE_BYTES, kv_bytes_per_token, stop_token_ids
from fcot.models.streaming import StreamRow, advance

Emit = Callable[[Any], None]  # called from the worker thread with a request's rows after a step, or an exception


@dataclass
class _Request:
    """One prompt's sequences (n when sampling, else one) in the batch."""

    prompt_ids: list[int]
    params: GenParams
    emit: Emit
    calculators: list[Calculator | None]
    tokens: list[list[int]] = field(default_factory=list)
    rows: list[StreamRow] = field(default_factory=list)
    cancelled: bool = False

    @property
    def width(self) -> int:
        return len(self.calculators)

    def finished(self) -> bool:
        return self.cancelled or all(row.finish_reason for row in self.rows)


class ContinuousBatcher:
    """Runs every request on one continuously batched decoding loop of at most `max_batch` sequences."""

    def __init__(self, generator: Generator, max_batch: int = SERVE_BATCH, cache_bytes: int = KV_CACHE_BYTES) -> None:
        self.generator, self.max_batch, self.cache_bytes = generator, max_batch, cache_bytes
        self.largest_batch = 0  # most sequences decoded together so far
        self.decode_steps = 0  # forward passes run, prefills included
        self.ends = stop_token_ids(generator.model, generator.tokenizer)  # tokens that end a sequence
        self._incoming: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    async def submit(self, prompt: str, params: GenParams) -> GenOutput:
        """Complete one prompt `params.n` times (greedy: one completion, repeated)."""
        rows: list[StreamRow] = []
        async for rows in self.stream(prompt, params):
            pass
        copies = params.n // len(rows)
        return GenOutput([r.text for r in rows] * copies, [r.finish_reason or "length" for r in rows] * copies,
                         self.generator.count_tokens(prompt), sum(r.new_tokens for r in rows) * copies)

    async def stream(self, prompt: str, params: GenParams) -> AsyncIterator[list[StreamRow]]:
        """The prompt's sequences after every decoding step until all finish; leaving early drops them."""
        self.generator.check_length(prompt, params.max_tokens)
        loop, steps = asyncio.get_running_loop(), asyncio.Queue()
        width = params.n if params.temperature > 0 else 1
        gen = self.generator

        def emit(item: Any) -> None:  # from the worker thread
            loop.call_soon_threadsafe(steps.put_nowait, item)

        calculators = [Calculator(gen._decode, gen._encode) if params.calculator else None for _ in range(width)]
        request = _Request(gen.tokenizer(prompt).input_ids, params, emit, calculators)
        self._start()
        self._incoming.put(request)
        try:
            while True:
                item = await steps.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if all(row.finish_reason for row in item):
                    return
        finally:
            request.cancelled = True

    async def aclose(self) -> None:
        """Stop the worker (after the step it is in)."""
        if self._thread is not None:
            self._incoming.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=_Loop(self).run, name="fcot-decode", daemon=True)
            self._thread.start()


class _Loop:
    """The worker's state: the running requests, their cache, attention mask and next input tokens."""

    def __init__(self, batcher: ContinuousBatcher) -> None:
        import torch

        self.batcher, self.gen = batcher, batcher.generator
        self.device = next(self.gen.model.parameters()).device
        self.requests: list[_Request] = []
        self.held: _Request | None = None  # the next request, waiting for room
        self.cache: Any = None
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=self.device)
        self.next_ids = torch.zeros(0, 1, dtype=torch.long, device=self.device)
        self.autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if self.gen.precision == "bf16"
                         else contextlib.nullcontext())
        self.tokens_in_flight = max(batcher.cache_bytes // kv_bytes_per_token(self.gen.model), 1)
        forward = inspect.signature(self.gen.model.forward).parameters
        self.last_only = {"logits_to_keep": 1} if "logits_to_keep" in forward else {}  # no head over prompts

    def run(self) -> None:
        while True:
            newcomers = self._admit()
            if newcomers is None:
                return
            try:
                if newcomers:
                    self._prefill(newcomers)
                if self.requests:
                    self._decode()
            except Exception as exc:  # noqa: BLE001 - every waiting request learns of it
                for request in self.requests + newcomers:
                    request.emit(exc)
                self.requests, self.cache = [], None
                self.mask, self.next_ids = self.mask[:0, :0], self.next_ids[:0]

    def _admit(self) -> list[_Request] | None:
        """Requests that fit beside the running ones (waiting for one when none runs); None to stop."""
        taken: list[_Request] = []
        while True:
            idle = not (self.requests or taken)
            try:
                request = self.held or self.batcher._incoming.get(block=idle)
            except queue.Empty:
                return taken
            self.held = None
            if request is None:
                return None
            if request.cancelled:
                continue
            if not idle and not self._fits([*self.requests, *taken, request]):
                self.held = request  # it waits for sequences to finish
                return taken
            taken.append(request)

    def _fits(self, requests: list[_Request]) -> bool:
        """Whether the requests' sequences decode together within `max_batch` and the key/value cache budget (their
        count times the longest prompt plus its new tokens, as the cache is padded to it)."""
        rows = sum(r.width for r in requests)
        span = max(len(r.prompt_ids) + r.params.max_tokens for r in requests)
        return rows <= self.batcher.max_batch and rows * span <= self.tokens_in_flight

    def _prefill(self, newcomers: list[_Request]) -> None:
        """Run the newcomers' prompts together, choose their first tokens and append them to the batch."""
        from transformers import DynamicCache

        prompts = [r.prompt_ids for r in newcomers for _ in range(r.width)]
        padded = self.gen.tokenizer.pad({"input_ids": prompts}, padding_side="left", return_tensors="pt")
        ids, mask = padded["input_ids"].to(self.device), padded["attention_mask"].to(self.device)
        cache = DynamicCache(config=self.gen.model.config)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self._forward(ids, mask, positions, cache)
        for r in newcomers:
            r.tokens, r.rows = [[] for _ in range(r.width)], [StreamRow("", None, 0)] * r.width
        first = len(self.next_ids)  # the newcomers' rows follow the running ones
        self._merge(newcomers, cache, mask)
        self._choose(logits, first)

    def _decode(self) -> None:
        """One decoding step of every running sequence."""
        import torch

        self.mask = torch.cat([self.mask, torch.ones_like(self.next_ids)], dim=1)
        positions = self.mask.sum(dim=1, keepdim=True) - 1
        self._choose(self._forward(self.next_ids, self.mask, positions, self.cache), 0)

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any) -> Any:
        import torch

        model = self.gen.model
        with self.gen._lock, torch.inference_mode(), self.autocast:
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                        **{_cache_argument(model): cache}, **self.last_only)
        self.batcher.decode_steps += 1
        return out.logits[:, -1, :].float()

    def _merge(self, newcomers: list[_Request], cache: Any, mask: Any) -> None:
        """Append the newcomers' cache and mask to the batch's, both left-padded to the longer length."""
        import torch

        if self.cache is None:
            self.cache, self.mask = cache, mask
        else:
            length = max(self.mask.shape[1], mask.shape[1])
            for old, new in zip(self.cache.layers, cache.layers):
                old.keys = torch.cat([_pad_left(old.keys, length, 2), _pad_left(new.keys, length, 2)])
                old.values = torch.cat([_pad_left(old.values, length, 2), _pad_left(new.values, length, 2)])
            self.mask = torch.cat([_pad_left(self.mask, length, 1), _pad_left(mask, length, 1)])
        self.requests.extend(newcomers)
        self.next_ids = torch.cat([self.next_ids, torch.zeros(len(mask), 1, dtype=torch.long, device=self.device)])

    def _choose(self, logits: Any, first: int) -> None:
        """Choose the next token of the batch's sequences from row `first` on (logits: one row each from there),
        advance them, send their requests the rows and drop what finished."""
        chosen = logits.argmax(dim=-1)
        row = 0
        for request in self.requests:
            if row >= first and not request.cancelled:
                for j in range(request.width):
                    token = self._token(request, j, logits[row + j - first], int(chosen[row + j - first]))
                    self.next_ids[row + j, 0] = token
                    if request.rows[j].finish_reason is None:
                        last = len(request.tokens[j]) + 1 >= request.params.max_tokens
                        request.rows[j] = advance(self.gen._decode, request.tokens[j], token, self.batcher.ends,
                                                  request.params.stop, last)
                request.emit(list(request.rows))
            row += request.width
        self.batcher.largest_batch = max(self.batcher.largest_batch, len(self.next_ids))
        self._drop_finished()

    def _token(self, request: _Request, j: int, logits: Any, greedy: int) -> int:
        import torch

        calculator = request.calculators[j]
        forced = calculator.forced(request.tokens[j]) if calculator else None
        if forced is not None:
            return forced
        params = request.params
        if params.temperature <= 0:
            return greedy
        probs = torch.softmax(logits / params.temperature, dim=-1)
        if params.top_p < 1:
            ordered, order = probs.sort(descending=True)
            outside = ordered.cumsum(-1) - ordered > params.top_p
            probs = probs.scatter(0, order, ordered.masked_fill(outside, 0))
        return int(torch.multinomial(probs, 1))

    def _drop_finished(self) -> None:
        """Remove finished and abandoned sequences, and the cache columns no remaining sequence attends to."""
        import torch

        keep, row = [], 0
        for request in self.requests:
            if not request.finished():
                keep.extend(range(row, row + request.width))
            row += request.width
        self.requests = [r for r in self.requests if not r.finished()]
        if len(keep) < len(self.next_ids):
            index = torch.tensor(keep, dtype=torch.long, device=self.device)
            self.mask, self.next_ids = self.mask[index], self.next_ids[index]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[index], layer.values[index]
        if not keep:
            self.cache = None
            return
        start = int((self.mask.sum(dim=0) > 0).nonzero()[0])
        if start:
            self.mask = self.mask[:, start:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, start:], layer.values[:, :, start:]


def _pad_left(tensor: Any, length: int, dim: int) -> Any:
    """tensor with zeros before its entries along dim, up to length."""
    import torch

    missing = length - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)
