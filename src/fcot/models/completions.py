"""The one model interface above the backends: what evaluation, `fcot serve` and the `local:` teacher talk to.

`open_student(path)` opens a model folder, an `fcot train` run, a `.gguf` file, an fcot export or the default
student's name as a `Completions` model: `complete` answers a batch of prompts (`Generation` records, in order),
`generate` answers them the way the OpenAI API reports completions (`n` each, token counts, length checks), and
`stream` completes one prompt token by token. `Generator` runs a torch model over `fcot.models.generate`,
`EdgeCompletions` an fcot export over `fcot.models.edge` (no torch). `Batcher` groups concurrent requests with the
same sampling parameters into one `generate` call on a worker thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

from fcot.errors import ContextTooLong, EmptyPrompt, ModelError
from fcot.models.edge import EdgeGenerator, export_info, load_edge
from fcot.models.generate import Generation
from fcot.models.generate import generate as generate_batch
from fcot.models.streaming import StreamRow


COMPLETION_TOKENS = 16  # a completion request's default length, as in the OpenAI API
SERVE_BATCH = 32  # sequences a server decodes together (continuous batching: requests join between steps)


@dataclass(frozen=True)
class GenParams:
    """Sampling parameters; requests are batched together only when these are equal."""

    max_tokens: int = COMPLETION_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    calculator: bool = False  # write the results of arithmetic the completion states (`fcot.models.calculator`)


@dataclass
class GenOutput:
    """The n completions of one prompt, with token counts."""

    texts: list[str]
    finish_reasons: list[str]
    prompt_tokens: int
    completion_tokens: int


def check_device(device: str) -> None:
    """Raise ModelError unless torch can place tensors on device."""
    import torch

    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"device {device!r} is not usable here ({reason}); use cpu"
                         + (" or cuda" if torch.cuda.is_available() else "")) from exc


def open_student(name_or_path: str | Path, *, threads: int | None = None, device: str | None = None,
                 precision: str = "auto") -> "Completions":
    """The model at name_or_path as `Completions`: an fcot export through its edge runtime (no torch; it runs in the
    precision it was written in), else a torch model on device (default: cuda if present) at `precision`."""
    if export_info(name_or_path) is not None:
        return EdgeCompletions(load_edge(name_or_path, threads))
    import torch

    from fcot.models.loading import load_model

    if threads:
        torch.set_num_threads(threads)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    check_device(device)
    loaded = load_model(name_or_path, device=device)
    return Generator(loaded.model, loaded.tokenizer, Path(str(name_or_path)).name or str(name_or_path), precision,
                     loaded.model_type)


def check_context(count: int, max_tokens: int, context_length: int) -> int:
    """count (a prompt's tokens), after checking that it is not empty and fits in context_length with max_tokens."""
    if count == 0:
        raise EmptyPrompt("the prompt is empty; send some text to complete")
    if count + max_tokens > context_length:
        raise ContextTooLong(
            f"This model's maximum context length is {context_length} tokens, however you requested "
            f"{count + max_tokens} tokens ({count} in your prompt; {max_tokens} for the completion); "
            "reduce the prompt or max_tokens")
    return count


class Completions:
    """A model completing prompts; subclasses count tokens, complete batches and stream.

    `tokenizer` gives chat requests a chat template (None: the messages joined by newlines); `precision` names the
    arithmetic answers are computed in (`bf16`, `fp32`, `gguf q8_0`, ...); `parameters` counts the model's weights.
    """

    name: str
    model_type: str = "decoder"
    context_length: int
    precision: str
    parameters: int | None = None
    tokenizer: Any = None

    def precision_note(self) -> str | None:
        """A line saying how the precision was chosen, where it was (torch's `auto`)."""
        return None

    def count_tokens(self, prompt: str) -> int:
        raise NotImplementedError

    def check_length(self, prompt: str, max_tokens: int) -> int:
        """The prompt's token count; EmptyPrompt without tokens, ContextTooLong when prompt + max_tokens won't fit."""
        return check_context(self.count_tokens(prompt), max_tokens, self.context_length)

    def batch_rows(self, max_batch: int) -> Any:
        """Rows for continuous batching of up to max_batch sequences (`fcot.models.continuous`), or None where the
        model answers whole batches or one sequence at a time."""
        return None

    def generate(self, prompts: list[str], params: GenParams) -> list[GenOutput]:
        """Complete every prompt `params.n` times (greedy: one completion, repeated)."""
        counts = [self.check_length(prompt, params.max_tokens) for prompt in prompts]
        copies = params.n if params.temperature > 0 else 1
        runs = self.complete([p for p in prompts for _ in range(copies)], params)
        outputs = []
        for i, count in enumerate(counts):
            own = runs[i * copies:(i + 1) * copies] * (params.n // copies)
            outputs.append(GenOutput([r.text for r in own], [r.finish_reason for r in own], count,
                                     sum(r.new_tokens for r in own)))
        return outputs

    def complete(self, prompts: list[str], params: GenParams, progress: Callable[[int], None] | None = None,
                 batch_size: int | None = None) -> list[Generation]:
        """One finished completion per prompt, in order, `batch_size` at a time (default: all); `progress(n)` after
        each batch; `params.n` is ignored."""
        raise NotImplementedError

    def stream(self, prompt: str, params: GenParams) -> Iterator[list[StreamRow]]:
        """Complete one prompt token by token, yielding its sequences (n when sampling, else one) after each step."""
        raise NotImplementedError


class Generator(Completions):
    """Completes prompts with a torch model (a causal LM, or an encoder-decoder for `complete`), many in one batch;
    one call at a time (a lock guards the model)."""

    def __init__(self, model: Any, tokenizer: Any, name: str, precision: str = "auto",
                 model_type: str = "decoder") -> None:
        from fcot.precision import resolve_precision

        self.model, self.tokenizer, self.name, self.model_type = model, tokenizer, name, model_type
        self.resolved = resolve_precision(precision, str(next(model.parameters()).device))
        self.precision = self.resolved.name
        self.parameters = sum(p.numel() for p in model.parameters())
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        config = model.config
        positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048)
        self.context_length = int(positions)
        self._lock = threading.Lock()

    def precision_note(self) -> str | None:
        return str(self.resolved)

    @property
    def compute_dtype(self) -> str | None:
        """The dtype the matmuls are autocast to ("bfloat16"), or None where they run in the weights' fp32."""
        return self.resolved.torch_dtype if self.precision == "bf16" else None

    def count_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt)["input_ids"])

    def complete(self, prompts: list[str], params: GenParams, progress: Callable[[int], None] | None = None,
                 batch_size: int | None = None) -> list[Generation]:
        with self._lock:
            gens, _ = generate_batch(self.model, self.tokenizer, prompts, model_type=self.model_type,
                                     max_new_tokens=params.max_tokens, batch_size=batch_size or len(prompts),
                                     stop=params.stop, temperature=params.temperature, top_p=params.top_p,
                                     compute_dtype=self.compute_dtype, progress=progress,
                                     calculator=params.calculator)
        return gens

    def batch_rows(self, max_batch: int) -> Any:
        if self.model_type != "decoder":
            return None
        from fcot.models.torch_rows import TorchRows

        return TorchRows(self, max_batch)

    def stream(self, prompt: str, params: GenParams) -> Iterator[list[StreamRow]]:
        """A causal LM streams through continuous batching (`batch_rows`); an encoder-decoder cannot."""
        raise ModelError(f"{self.name}: an encoder-decoder model answers whole batches; streaming needs a causal LM")


class EdgeCompletions(Completions):
    """An fcot export (`fcot.models.edge.EdgeGenerator`), greedy or sampled: a GGUF model completes a batch of prompts
    continuously batched (`SERVE_BATCH` sequences at a time), an ONNX one a sequence at a time."""

    def __init__(self, edge: EdgeGenerator) -> None:
        self.edge, self.name, self.context_length = edge, Path(edge.name).name, edge.context_length
        self.precision = edge.dtype  # e.g. "gguf q8_0": the export runs in the precision it was written in
        self._batcher: Any = None  # made on the first batch

    def count_tokens(self, prompt: str) -> int:
        return len(self.edge.encode(prompt))

    def batch_rows(self, max_batch: int) -> Any:
        return self.edge.batch_rows(max_batch)

    def complete(self, prompts: list[str], params: GenParams, progress: Callable[[int], None] | None = None,
                 batch_size: int | None = None) -> list[Generation]:
        together = len(prompts) > 1 and batch_size != 1  # batch_size 1: one at a time, as a parity check asks
        if together and self._batcher is None and (rows := self.batch_rows(SERVE_BATCH)) is not None:
            from fcot.models.continuous import ContinuousBatcher

            self._batcher = ContinuousBatcher(rows)
        if together and self._batcher is not None:
            done = self._batcher.complete(prompts, dataclasses.replace(params, n=1), progress)
            return [Generation(r.text, r.finish_reason or "length", r.new_tokens) for (r,) in done]
        outs = []
        for prompt in prompts:
            outs.append(self.edge.complete(prompt, params.max_tokens, params.stop, params.temperature, params.top_p,
                                           params.calculator))
            if progress is not None:
                progress(1)
        return outs

    def stream(self, prompt: str, params: GenParams) -> Iterator[list[StreamRow]]:
        """Complete one prompt token by token; sampling n sequences, one after another (the others wait empty)."""
        self.check_length(prompt, params.max_tokens)
        count = params.n if params.temperature > 0 else 1
        done: list[StreamRow] = []
        for i in range(count):
            row = StreamRow("", "length", 0)
            for row in self.edge.stream(prompt, params.max_tokens, params.stop, params.temperature, params.top_p,
                                        params.calculator):
                yield [*done, row, *[StreamRow("", None, 0)] * (count - i - 1)]
            done.append(row)


class Batcher:
    """Collects concurrent requests and runs those with equal parameters as one batch on a worker thread."""

    def __init__(self, generator: Completions, max_batch: int = 8) -> None:
        self.generator = generator
        self.max_batch = max_batch
        self.context_length = generator.context_length  # most tokens, prompt and completion, one request may take
        self.largest_batch = 0  # most prompts generated together so far
        self._pending: list[tuple[str, GenParams, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None

    def check_length(self, prompt: str, max_tokens: int) -> int:
        return self.generator.check_length(prompt, max_tokens)

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

    async def stream(self, prompt: str, params: GenParams) -> AsyncIterator[list[StreamRow]]:
        """One prompt's sequences after every decoding step, on a worker thread (streams are not batched)."""
        steps = self.generator.stream(prompt, params)
        while (rows := await asyncio.to_thread(next, steps, None)) is not None:
            yield rows

    async def aclose(self) -> None:
        """Stop the worker."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None


def batcher_for(generator: Completions, max_batch: int) -> Any:
    """What runs concurrent requests on a model: continuous batching (`fcot.models.continuous`) where the model has
    rows for it (a torch causal LM, a GGUF export), else a `Batcher`."""
    rows = generator.batch_rows(max_batch)
    if rows is None:
        return Batcher(generator, max_batch)
    from fcot.models.continuous import ContinuousBatcher

    return ContinuousBatcher(rows)
