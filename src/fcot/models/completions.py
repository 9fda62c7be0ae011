"""Completions the way the OpenAI API reports them, for `fcot serve` and `local:`.

A `Completions` model completes prompts (`n` each) with finish reasons and token counts (`generate`) and one
prompt token by token (`stream`): `Generator` runs a torch model over `fcot.models.generate`, `EdgeCompletions`
an fcot export over `fcot.models.edge` (no torch). `Batcher` groups concurrent requests with the same sampling
parameters into one `generate` call on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from fcot.errors import ModelError
from fcot.models.generate import generate as generate_batch
from fcot.models.generate import stop_token_ids, trim_at_stop


class ContextTooLong(ModelError):
    """A prompt plus max_tokens does not fit in the model's context."""


class EmptyPrompt(ModelError):
    """A prompt with no tokens: there is nothing to continue."""


@dataclass(frozen=True)
class GenParams:
    """Sampling parameters; requests are batched together only when these are equal."""

    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()


@dataclass
class GenOutput:
    """The n completions of one prompt, with token counts."""

    texts: list[str]
    finish_reasons: list[str]
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class StreamRow:
    """One sequence of a streamed completion after a decoding step."""

    text: str  # final text, or while generating the part no stop phrase can still cut
    finish_reason: str | None  # None while generating
    new_tokens: int


def advance(decode: Callable[[list[int]], str], tokens: list[int], token: int, ends: set[int], stop: tuple[str, ...],
            last: bool) -> StreamRow:
    """A sequence's state after its next token: stopped at EOS or a stop phrase, out of length, or growing.

    tokens (the sequence's completion so far) grows by token unless it ends the completion.
    """
    ended = token in ends
    if not ended:
        tokens.append(token)
    text, hit = trim_at_stop(decode(tokens), stop)
    if ended or hit or last:
        return StreamRow(text, "stop" if ended or hit else "length", len(tokens))
    hold = max((len(s) for s in stop if s), default=1) - 1  # characters that may start a stop phrase
    stable = text[:max(0, len(text) - hold)].rstrip("\ufffd")  # a trailing U+FFFD is an unfinished UTF-8 character
    return StreamRow(stable, None, len(tokens))


def check_device(device: str) -> None:
    """Raise ModelError unless torch can place tensors on device."""
    import torch

    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"device {device!r} is not usable here ({reason}); use cpu"
                         + (" or cuda" if torch.cuda.is_available() else "")) from exc


def load_generator(name_or_path: str | Path, device: str | None = None, precision: str = "auto") -> "Generator":
    """A Generator for a model folder, .gguf file or the default student alias (via fcot.models.loading)."""
    import torch

    from fcot.models.loading import load_model

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    check_device(device)
    loaded = load_model(name_or_path, device=device)
    if loaded.model_type != "decoder":
        raise ModelError(f"{name_or_path}: an encoder-decoder model; serve and the local teacher need a causal LM")
    return Generator(loaded.model, loaded.tokenizer, Path(str(name_or_path)).name or str(name_or_path), precision)


def load_edge_completions(path: str | Path, threads: int | None = None) -> "EdgeCompletions":
    """EdgeCompletions for an fcot export (a .gguf file or an ONNX folder), run without torch."""
    from fcot.models.edge import load_edge

    return EdgeCompletions(load_edge(path, threads))


class Completions:
    """A model completing prompts for `fcot serve` and the `local:` teacher; subclasses count tokens, complete, stream.

    `tokenizer` gives chat requests a chat template (None: the messages joined by newlines).
    """

    name: str
    context_length: int
    tokenizer: Any = None

    def count_tokens(self, prompt: str) -> int:
        raise NotImplementedError

    def check_length(self, prompt: str, max_tokens: int) -> int:
        """The prompt's token count; EmptyPrompt without tokens, ContextTooLong when prompt + max_tokens won't fit."""
        count = self.count_tokens(prompt)
        if count == 0:
            raise EmptyPrompt("the prompt is empty; send some text to complete")
        if count + max_tokens > self.context_length:
            raise ContextTooLong(
                f"This model's maximum context length is {self.context_length} tokens, however you requested "
                f"{count + max_tokens} tokens ({count} in your prompt; {max_tokens} for the completion); "
                "reduce the prompt or max_tokens")
        return count

    def generate(self, prompts: list[str], params: GenParams) -> list[GenOutput]:
        """Complete every prompt `params.n` times (greedy: one completion, repeated)."""
        counts = [self.check_length(prompt, params.max_tokens) for prompt in prompts]
        copies = params.n if params.temperature > 0 else 1
        runs = self._complete([p for p in prompts for _ in range(copies)], params)
        outputs = []
        for i, count in enumerate(counts):
            own = runs[i * copies:(i + 1) * copies] * (params.n // copies)
            outputs.append(GenOutput([r.text for r in own], [r.finish_reason for r in own], count,
                                     sum(r.new_tokens for r in own)))
        return outputs

    def _complete(self, prompts: list[str], params: GenParams) -> list[Any]:
        """One finished completion (text, finish_reason, new_tokens) per prompt, in order."""
        raise NotImplementedError

    def stream(self, prompt: str, params: GenParams) -> Iterator[list[StreamRow]]:
        """Complete one prompt token by token, yielding its sequences (n when sampling, else one) after each step."""
        raise NotImplementedError


class Generator(Completions):
    """Completes prompts with a torch causal LM, many in one batch; one call at a time (a lock guards the model)."""

    def __init__(self, model: Any, tokenizer: Any, name: str, precision: str = "auto") -> None:
        from fcot.precision import resolve_precision

        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.precision = resolve_precision(precision, str(next(model.parameters()).device))
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        config = model.config
        positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048)
        self.context_length = int(positions)
        self._lock = threading.Lock()
        self.stream_steps = 0  # decoding steps `stream` has run, all streams together

    def count_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt)["input_ids"])

    def _complete(self, prompts: list[str], params: GenParams) -> list[Any]:
        """The prompts' completions, generated as one batch."""
        with self._lock:
            gens, _ = generate_batch(self.model, self.tokenizer, prompts, max_new_tokens=params.max_tokens,
                                     batch_size=len(prompts), stop=params.stop, temperature=params.temperature,
                                     top_p=params.top_p, compute_dtype=self.precision.torch_dtype)
        return gens

    def stream(self, prompt: str, params: GenParams) -> Iterator[list[StreamRow]]:
        """Each step takes the model lock on its own, so streams interleave with batches; stop iterating to stop."""
        import torch
        from transformers import DynamicCache, LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

        self.check_length(prompt, params.max_tokens)
        sampling = params.temperature > 0
        warp = LogitsProcessorList([TemperatureLogitsWarper(params.temperature), TopPLogitsWarper(params.top_p)]
                                   ) if sampling else None
        ends = stop_token_ids(self.model, self.tokenizer)
        device = next(self.model.parameters()).device
        ids = torch.tensor([self.tokenizer(prompt).input_ids] * (params.n if sampling else 1), device=device)
        tokens: list[list[int]] = [[] for _ in range(len(ids))]
        rows = [StreamRow("", None, 0)] * len(ids)
        cache = {_cache_argument(self.model): DynamicCache(config=self.model.config)}  # grows in place
        autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if self.precision.name == "bf16"
                    else contextlib.nullcontext())  # the same matmul precision as batched generation
        for step in range(params.max_tokens):
            with self._lock, torch.inference_mode(), autocast:
                out = self.model(input_ids=ids, use_cache=True, **cache)
                logits = out.logits[:, -1, :].float()
                ids = (torch.multinomial(torch.softmax(warp(ids, logits), dim=-1), 1) if sampling
                       else logits.argmax(dim=-1, keepdim=True))
            self.stream_steps += 1
            for i, token in enumerate(ids[:, 0].tolist()):
                if rows[i].finish_reason is None:
                    last = step == params.max_tokens - 1
                    rows[i] = advance(self._decode, tokens[i], token, ends, params.stop, last)
            yield list(rows)
            if all(row.finish_reason for row in rows):
                return

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)


class EdgeCompletions(Completions):
    """An fcot export (`fcot.models.edge.EdgeGenerator`) completing one sequence at a time, greedy or sampled."""

    def __init__(self, edge: Any) -> None:
        self.edge, self.name, self.context_length = edge, Path(edge.name).name, edge.context_length
        self.precision = edge.dtype  # e.g. "gguf q8_0": the export runs in the precision it was written in

    def count_tokens(self, prompt: str) -> int:
        return len(self.edge.encode(prompt))

    def _complete(self, prompts: list[str], params: GenParams) -> list[Any]:
        return [self.edge.complete(p, params.max_tokens, params.stop, params.temperature, params.top_p)
                for p in prompts]

    def stream(self, prompt: str, params: GenParams) -> Iterator[list[StreamRow]]:
        """Complete one prompt token by token; sampling n sequences, one after another (the others wait empty)."""
        self.check_length(prompt, params.max_tokens)
        count = params.n if params.temperature > 0 else 1
        done: list[StreamRow] = []
        for i in range(count):
            row = StreamRow("", "length", 0)
            for row in self.edge.stream(prompt, params.max_tokens, params.stop, params.temperature, params.top_p):
                yield [*done, row, *[StreamRow("", None, 0)] * (count - i - 1)]
            done.append(row)


def _cache_argument(model: Any) -> str:
    """The name of the KV-cache argument of model.forward (`cache` since transformers 5.x, else past_key_values)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class Batcher:
    """Collects concurrent requests and runs those with equal parameters as one batch on a worker thread."""

    def __init__(self, generator: Completions, max_batch: int = 8) -> None:
        self.generator = generator
        self.max_batch = max_batch
        self.largest_batch = 0  # most prompts generated together so far
        self._pending: list[tuple[str, GenParams, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None

    async def submit(self, prompt: str, params: GenParams) -> GenOutput:
        """Complete one prompt, batched with whatever else is waiting."""
        self.generator.check_length(prompt, params.max_tokens)
        if self._worker is None:
            self._wake = asyncio.Event()
            self._worker = asyncio.create_task(self._run())
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((prompt, params, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while live := [p for p in self._pending if not p[2].done()]:  # requests not given up on
                params = live[0][1]
                group = [p for p in live if p[1] == params][: self.max_batch]
                self._pending = [p for p in live if p not in group]
                self.largest_batch = max(self.largest_batch, len(group))
                try:
                    outs = await asyncio.to_thread(self.generator.generate, [p[0] for p in group], params)
                except Exception as exc:  # noqa: BLE001 - handed to each waiting request
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, _, future), out in zip(group, outs):
                    if not future.done():
                        future.set_result(out)

    async def aclose(self) -> None:
        """Stop the worker."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
