"""The backend interface, and `Completer`: cache + usage accounting in front of any backend.

A backend turns (prompt, sampling, completion indices) into one `Choice` per index. `Completer` answers
from the SQLite cache where it can, asks the backend for the rest, and commits each answer at once; a
request identical to one in flight (same cache key) waits for that one's answer instead of being sent again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from typing import Awaitable, Iterable, Protocol, Sequence, TypeVar

from fcot.errors import RequestFailed
from fcot.teacher.cache import Choice, CompletionCache, key_from_prefix, key_prefix
from fcot.teacher.pricing import Price, Usage

log = logging.getLogger(__name__)

T = TypeVar("T")


async def gather(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """`asyncio.gather`, minus its task (one trip through a busy event loop) when there is a single awaitable."""
    items = list(awaitables)
    if len(items) == 1:
        return [await items[0]]
    return list(await asyncio.gather(*items))


def run_interruptible(main: Awaitable[T]) -> T:
    """`asyncio.run(main)`, where Ctrl-C always ends in KeyboardInterrupt once the loop has stopped.

    asyncio.run turns Ctrl-C into a cancellation of the main task and raises KeyboardInterrupt only if that
    cancellation comes back out of it; code on the way that absorbs the CancelledError (a library's cleanup,
    a `finally` that awaits and returns) makes it return normally, and the command would exit 0 as if it had
    finished. Here the signal itself is recorded: the main task is cancelled (so partial results are saved on
    the way out) and KeyboardInterrupt is raised afterwards whatever became of the cancellation; a second
    Ctrl-C stops at once. A process started with SIGINT ignored (a background job) keeps ignoring it.
    """
    import signal
    import threading

    interrupts = 0
    ours = (threading.current_thread() is threading.main_thread()  # checked before asyncio.run puts in its own
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)

    async def guarded() -> T:
        nonlocal interrupts
        task, loop = asyncio.current_task(), asyncio.get_running_loop()

        def on_sigint(signum, frame) -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts > 1:
                raise KeyboardInterrupt
            loop.call_soon_threadsafe(task.cancel)

        previous = signal.signal(signal.SIGINT, on_sigint) if ours else None
        try:
            return await main
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if interrupts:
            raise KeyboardInterrupt from None
        raise
    if interrupts:
        raise KeyboardInterrupt
    return result


@dataclass(frozen=True)
class Sampling:
    """Generation parameters of one request (part of the cache key)."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] | None = None

    def to_json(self) -> dict:
        return {**asdict(self), "stop": list(self.stop) if self.stop else None}


@dataclass
class Stats:
    """Live counters for progress display and the final summary."""

    total: int = 0  # samples to complete
    done: int = 0
    failed: int = 0
    cache_hits: int = 0  # completions answered from the cache
    shared: int = 0  # completions answered by an identical request in flight at the same time (not sent twice)
    retries: int = 0
    usage: Usage = field(default_factory=Usage)  # spent in this run
    replayed: Usage = field(default_factory=Usage)  # cost of cached answers, when they were first received


class Backend(Protocol):
    """Something that completes prompts: an OpenAI-compatible endpoint, a local model, a recording."""

    identity: dict  # what makes its answers differ (backend, model, base_url, chat); part of the cache key
    model_name: str  # the model's name (output folders `B_<name>` use `teach.teacher_label` of it)
    cacheable: bool  # False for backends whose answers are already on disk

    async def generate(
        self, prompt: str, sampling: Sampling, indices: Sequence[int], sample_index: int | None = None
    ) -> list[Choice]:
        """One choice per completion index (`sample_index` only tells a recording which question asks)."""
        ...

    async def aclose(self) -> None:
        """Release connections or models."""
        ...


class Completer:
    """Answers (prompt, sampling, indices) from the cache first, then from the backend."""

    def __init__(
        self,
        backend: Backend,
        cache: CompletionCache | None = None,
        price: Price | None = None,
        stats: Stats | None = None,
        offline: bool = False,
    ) -> None:
        self.backend = backend
        self.cache = cache if backend.cacheable else None
        self.price = price or Price(None, None)
        self.stats = stats or Stats()
        self.offline = offline  # answer only from the cache (after a Batch API run)
        self._prefixes: dict[Sampling, str] = {}
        self._in_flight: dict[str, asyncio.Future[dict[int, Choice]]] = {}  # cache key -> the request answering it

    def key(self, prompt: str, sampling: Sampling, index: int) -> str:
        """The cache key of one completion (`cache.request_key` of the backend identity and sampling)."""
        prefix = self._prefixes.get(sampling)
        if prefix is None:
            prefix = self._prefixes[sampling] = key_prefix(self.backend.identity, sampling.to_json())
        return key_from_prefix(prefix, prompt, index)

    def cached(self, prompt: str, sampling: Sampling, index: int) -> Choice | None:
        """The cached completion, if any."""
        return None if self.cache is None else self.cache.get(self.key(prompt, sampling, index))

    def store(self, prompt: str, sampling: Sampling, index: int, choice: Choice) -> None:
        """Commit one received completion and count what it cost."""
        if self.cache is not None:
            self.cache.put(self.key(prompt, sampling, index), prompt, index, choice)
        self.stats.usage.prompt_tokens += choice.prompt_tokens
        self.stats.usage.completion_tokens += choice.completion_tokens
        self.stats.usage.dollars += self.price.cost(choice.prompt_tokens, choice.completion_tokens)

    async def complete(
        self, prompt: str, sampling: Sampling, indices: Sequence[int] = (0,), sample_index: int | None = None
    ) -> list[Choice]:
        """One choice per completion index, sending only what the cache lacks."""
        got: dict[int, Choice] = {}
        for i in indices:
            hit = self.cached(prompt, sampling, i)
            if hit is not None:
                got[i] = hit
                self.stats.cache_hits += 1
                self.stats.replayed.add(hit.prompt_tokens, hit.completion_tokens,
                                        self.price.cost(hit.prompt_tokens, hit.completion_tokens))
        missing = [i for i in indices if i not in got]
        if missing and self.offline:
            raise RequestFailed("no answer in the batch results; re-run the same command to retry it")
        keys = {i: self.key(prompt, sampling, i) for i in missing} if self.cache is not None else {}
        shared = {i: self._in_flight[keys[i]] for i in missing if keys.get(i) in self._in_flight}
        send = [i for i in missing if i not in shared]
        if send:
            got.update(await self._send(prompt, sampling, send, sample_index, [keys[i] for i in send if i in keys]))
        for i, answers in shared.items():
            got[i] = (await asyncio.shield(answers))[i]
            self.stats.shared += 1
        return [got[i] for i in indices]

    async def _send(self, prompt: str, sampling: Sampling, indices: list[int], sample_index: int | None,
                    keys: list[str]) -> dict[int, Choice]:
        """Ask the backend for these completion indices, store and count the answers; identical requests made
        meanwhile (the same cache `keys`) wait for them."""
        answers = asyncio.get_running_loop().create_future() if keys else None
        for key in keys:
            self._in_flight[key] = answers
        try:
            choices = await self.backend.generate(prompt, sampling, indices, sample_index)
            self.stats.usage.requests += 1
            for i, choice in zip(indices, choices):
                self.store(prompt, sampling, i, choice)
        except Exception as exc:
            if answers is not None:
                answers.set_exception(exc)
                answers.exception()  # retrieved: no warning when nobody else was waiting
            raise
        except BaseException:
            if answers is not None:
                answers.cancel()
            raise
        finally:
            for key in keys:
                self._in_flight.pop(key, None)
        result = dict(zip(indices, choices))
        if answers is not None:
            answers.set_result(result)
        return result
