"""Continuous batching: a sequence joins the running batch between two decoding steps and leaves it when it
finishes, so a new request waits one step, not a whole batch (`fcot serve`, the `local:` teacher).

    batcher = ContinuousBatcher(completions.batch_rows(max_batch=32))
    out = await batcher.submit(prompt, GenParams(max_tokens=64))      # the n completions of one prompt
    async for rows in batcher.stream(prompt, params): ...             # its StreamRows after every step

One worker thread owns the batch. What runs the model is a `Rows` engine — `fcot.models.torch_rows` for a torch
causal LM, `fcot.models.llama_rows` for a GGUF export — holding the running sequences' key/value cache in batch
order; this module decides which requests join (as many as the engine says fit), picks every next token (greedy,
sampled, or the calculator's) and drops finished sequences.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Protocol

from fcot.models.calculator import Calculator
from fcot.models.completions import GenOutput, GenParams, check_context
from fcot.models.streaming import StreamRow, advance

Emit = Callable[[Any], None]  # called from the worker thread with a request's rows after a step, or an exception


class Rows(Protocol):
    """A model's running sequences (rows), their key/value cache kept by the engine in batch order.

    `prefill` appends new rows after the running ones, `step` advances every row by one token, `keep` drops the
    others; both return one row of next-token logits per row they ran, which `greedy` and `sample` read.
    """

    context_length: int  # most tokens (prompt and completion) one row holds
    ends: set[int]  # tokens that end a completion

    def session(self) -> contextlib.AbstractContextManager:
        """The context the worker's whole decoding loop runs in."""
    def encode(self, prompt: str) -> list[int]: ...
    def decode(self, tokens: list[int]) -> str: ...
    def encode_text(self, text: str) -> list[int]: ...
    def fits(self, spans: list[int]) -> bool:
        """Whether rows of these lengths (prompt plus new tokens) decode together."""
    def prefill(self, prompts: list[list[int]]) -> Any: ...
    def step(self, tokens: list[int]) -> Any: ...
    def keep(self, rows: list[int]) -> None: ...
    def clear(self) -> None: ...
    def greedy(self, logits: Any) -> list[int]: ...
    def sample(self, logits: Any, row: int, temperature: float, top_p: float) -> int: ...


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

    @property
    def spans(self) -> list[int]:
        return [len(self.prompt_ids) + self.params.max_tokens] * self.width

    def finished(self) -> bool:
        return self.cancelled or all(row.finish_reason for row in self.rows)


class ContinuousBatcher:
    """Runs every request on one continuously batched decoding loop over `engine`."""

    def __init__(self, engine: Rows) -> None:
        self.engine = engine
        self.context_length = engine.context_length  # most tokens, prompt and completion, one request may take
        self.largest_batch = 0  # most sequences decoded together so far
        self.decode_steps = 0  # forward passes run, prefills included
        self._incoming: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def check_length(self, prompt: str, max_tokens: int) -> int:
        """The prompt's token count; EmptyPrompt without tokens, ContextTooLong when it and max_tokens overfill a
        row."""
        return len(self._prompt_ids(prompt, max_tokens))

    async def submit(self, prompt: str, params: GenParams) -> GenOutput:
        """Complete one prompt `params.n` times (greedy: one completion, repeated)."""
        prompt_ids = self._prompt_ids(prompt, params.max_tokens)
        rows: list[StreamRow] = []
        async for rows in self._follow(prompt_ids, params):
            pass
        copies = params.n // len(rows)
        return GenOutput([r.text for r in rows] * copies, [r.finish_reason or "length" for r in rows] * copies,
                         len(prompt_ids), sum(r.new_tokens for r in rows) * copies)

    def stream(self, prompt: str, params: GenParams) -> AsyncIterator[list[StreamRow]]:
        """The prompt's sequences after every decoding step until all finish; leaving early drops them."""
        return self._follow(self._prompt_ids(prompt, params.max_tokens), params)

    async def _follow(self, prompt_ids: list[int], params: GenParams) -> AsyncIterator[list[StreamRow]]:
        """Queue the prompt and yield its rows from the worker until all finish (or the caller leaves)."""
        loop, steps = asyncio.get_running_loop(), asyncio.Queue()

        def emit(item: Any) -> None:  # from the worker thread
            loop.call_soon_threadsafe(steps.put_nowait, item)

        request = self._request(prompt_ids, params, emit)
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

    def complete(self, prompts: list[str], params: GenParams, progress: Callable[[int], None] | None = None
                 ) -> list[list[StreamRow]]:
        """Every prompt's finished sequences, in order, decoded together; `progress(1)` as each prompt finishes.
        The worker stops when they are done (no thread outlives the call)."""
        finished: dict[int, list[StreamRow]] = {}
        failure: list[BaseException] = []
        done = threading.Event()

        def emitter(i: int) -> Emit:
            def emit(item: Any) -> None:
                if isinstance(item, BaseException):
                    failure.append(item)
                elif all(row.finish_reason for row in item):
                    finished[i] = item
                    if progress is not None:
                        progress(1)
                else:
                    return
                if failure or len(finished) == len(prompts):
                    done.set()
            return emit

        checked = [self._prompt_ids(prompt, params.max_tokens) for prompt in prompts]  # all before any is queued
        for i, prompt_ids in enumerate(checked):
            self._incoming.put(self._request(prompt_ids, params, emitter(i)))
        self._start()
        done.wait()
        self._stop()
        if failure:
            raise failure[0]
        return [finished[i] for i in range(len(prompts))]

    async def aclose(self) -> None:
        """Stop the worker (after the step it is in)."""
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        if self._thread is not None:
            self._incoming.put(None)
            self._thread.join()
            self._thread = None

    def _prompt_ids(self, prompt: str, max_tokens: int) -> list[int]:
        """The prompt's tokens, after checking it is not empty (EmptyPrompt) and fits a row (ContextTooLong)."""
        prompt_ids = self.engine.encode(prompt)
        check_context(len(prompt_ids), max_tokens, self.context_length)
        return prompt_ids

    def _request(self, prompt_ids: list[int], params: GenParams, emit: Emit) -> _Request:
        engine, width = self.engine, params.n if params.temperature > 0 else 1
        calculators = [Calculator(engine.decode, engine.encode_text) if params.calculator else None
                       for _ in range(width)]
        return _Request(prompt_ids, params, emit, calculators)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=_Loop(self).run, name="fcot-decode", daemon=True)
            self._thread.start()


class _Loop:
    """The worker's state: the running requests in batch order and each row's next input token."""

    def __init__(self, batcher: ContinuousBatcher) -> None:
        self.batcher, self.engine = batcher, batcher.engine
        self.requests: list[_Request] = []
        self.held: _Request | None = None  # the next request, waiting for room
        self.next_tokens: list[int] = []

    def run(self) -> None:
        with self.engine.session():
            while (newcomers := self._admit()) is not None:
                try:
                    if newcomers:
                        self._prefill(newcomers)
                    if self.requests:
                        self._choose(self.engine.step(self.next_tokens), 0)
                        self.batcher.decode_steps += 1
                except Exception as exc:  # noqa: BLE001 - every waiting request learns of it
                    for request in self.requests + newcomers:
                        request.emit(exc)
                    self.requests, self.next_tokens = [], []
                    self.engine.clear()

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
            if not idle and not self.engine.fits([s for r in (*self.requests, *taken, request) for s in r.spans]):
                self.held = request  # it waits for sequences to finish
                return taken
            taken.append(request)

    def _prefill(self, newcomers: list[_Request]) -> None:
        """Run the newcomers' prompts together, append them to the batch and choose their first tokens."""
        logits = self.engine.prefill([r.prompt_ids for r in newcomers for _ in range(r.width)])
        self.batcher.decode_steps += 1
        for r in newcomers:
            r.tokens, r.rows = [[] for _ in range(r.width)], [StreamRow("", None, 0)] * r.width
        first = len(self.next_tokens)  # the newcomers' rows follow the running ones
        self.requests.extend(newcomers)
        self.next_tokens.extend(0 for r in newcomers for _ in range(r.width))
        self._choose(logits, first)

    def _choose(self, logits: Any, first: int) -> None:
        """Choose the next token of the batch's rows from `first` on (logits: one row each from there), advance
        them, send their requests the rows and drop what finished."""
        greedy = self.engine.greedy(logits)
        row = 0
        for request in self.requests:
            if row >= first and not request.cancelled:
                for j in range(request.width):
                    token = self._token(request, j, logits, row + j - first, greedy[row + j - first])
                    self.next_tokens[row + j] = token
                    if request.rows[j].finish_reason is None:
                        last = len(request.tokens[j]) + 1 >= request.params.max_tokens
                        request.rows[j] = advance(self.engine.decode, request.tokens[j], token, self.engine.ends,
                                                  request.params.stop, last)
                request.emit(list(request.rows))
            row += request.width
        self.batcher.largest_batch = max(self.batcher.largest_batch, len(self.next_tokens))
        self._drop_finished()

    def _token(self, request: _Request, j: int, logits: Any, row: int, greedy: int) -> int:
        calculator = request.calculators[j]
        forced = calculator.forced(request.tokens[j]) if calculator else None
        if forced is not None:
            return forced
        params = request.params
        if params.temperature <= 0:
            return greedy
        return self.engine.sample(logits, row, params.temperature, params.top_p)

    def _drop_finished(self) -> None:
        """Remove finished and abandoned sequences from the batch."""
        keep, row = [], 0
        for request in self.requests:
            if not request.finished():
                keep.extend(range(row, row + request.width))
            row += request.width
        if len(keep) < len(self.next_tokens):
            self.requests = [r for r in self.requests if not r.finished()]
            self.next_tokens = [self.next_tokens[i] for i in keep]
            self.engine.keep(keep)
