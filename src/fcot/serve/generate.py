"""Batched text generation with a local transformers causal LM, shared by `fcot serve` and the `local:` teacher.

`Generator.generate` completes several prompts at once (greedy or sampled, `n` per prompt), stops at
stop strings, and reports finish reasons and token counts the way the OpenAI API does. `Batcher` groups
concurrent requests with the same sampling parameters into one `generate` call on a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcot.errors import ModelError

log = logging.getLogger(__name__)


class ContextTooLong(ModelError):
    """A prompt plus max_tokens does not fit in the model's context."""


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


def load_generator(name_or_path: str | Path, device: str | None = None) -> "Generator":
    """A Generator for a model folder, .gguf file or the default student alias (via fcot.student.model)."""
    import torch

    from fcot.student.model import load_model

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = load_model(name_or_path, device=device)
    if loaded.model_type != "decoder":
        raise ModelError(f"{name_or_path}: an encoder-decoder model; serve and the local teacher need a causal LM")
    return Generator(loaded.model, loaded.tokenizer, Path(str(name_or_path)).name or str(name_or_path))


class Generator:
    """Completes prompts with a causal LM; one call at a time (a lock guards the model)."""

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        config = model.config
        positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048)
        self.context_length = int(positions)
        self._lock = threading.Lock()

    def check_length(self, prompt: str, max_tokens: int) -> int:
        """The prompt's token count, or ContextTooLong when prompt + max_tokens exceeds the context."""
        count = len(self.tokenizer(prompt)["input_ids"])
        if count + max_tokens > self.context_length:
            raise ContextTooLong(
                f"This model's maximum context length is {self.context_length} tokens, however you requested "
                f"{count + max_tokens} tokens ({count} in your prompt; {max_tokens} for the completion); "
                "reduce the prompt or max_tokens")
        return count

    def generate(self, prompts: list[str], params: GenParams) -> list[GenOutput]:
        """Complete every prompt `params.n` times in one batch."""
        import torch

        for prompt in prompts:
            self.check_length(prompt, params.max_tokens)
        tok = self.tokenizer
        batch = tok(prompts, return_tensors="pt", padding=True).to(self.model.device)
        sample = params.temperature > 0
        copies = params.n if sample else 1  # greedy: one sequence, repeated n times
        kwargs: dict[str, Any] = {"max_new_tokens": params.max_tokens, "do_sample": sample,
                                  "num_return_sequences": copies, "pad_token_id": tok.pad_token_id}
        if sample:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        with self._lock, torch.no_grad():
            out = self.model.generate(**batch, **kwargs)
        new = out[:, batch["input_ids"].shape[1]:].tolist()
        outputs = []
        for i, prompt_ids in enumerate(batch["attention_mask"].sum(dim=1).tolist()):
            texts, reasons, used = [], [], 0
            rows = new[i * copies:(i + 1) * copies]
            for ids in rows * (params.n // copies):
                text, reason, count = self._finish(ids, params)
                texts.append(text)
                reasons.append(reason)
                used += count
            outputs.append(GenOutput(texts, reasons, int(prompt_ids), used))
        return outputs

    def _finish(self, ids: list[int], params: GenParams) -> tuple[str, str, int]:
        """Text up to EOS or the first stop string, its finish reason, and the tokens it used."""
        tok = self.tokenizer
        reason = "length"
        eos = {tok.eos_token_id} if isinstance(tok.eos_token_id, int) else set(tok.eos_token_id or [])
        for j, token in enumerate(ids):
            if token in eos:
                ids, reason = ids[:j], "stop"
                break
        ids = [t for t in ids if t != tok.pad_token_id or t in eos]
        text = tok.decode(ids, skip_special_tokens=True)
        cuts = [text.find(s) for s in params.stop if s and s in text]
        if cuts:
            text, reason = text[:min(cuts)], "stop"
        return text, reason, len(ids)


class Batcher:
    """Collects concurrent requests and runs those with equal parameters as one batch on a worker thread."""

    def __init__(self, generator: Generator, max_batch: int = 8) -> None:
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
            while self._pending:
                params = self._pending[0][1]
                group = [p for p in self._pending if p[1] == params][: self.max_batch]
                self._pending = [p for p in self._pending if p not in group]
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
