"""Batched generation with a student model (decoder or encoder-decoder): greedy or sampled, cut at stop phrases.

The model-level inference that evaluation, `fcot serve` and the `local:` teacher all build on.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

# Memory of the key/value cache of the answers generated together (prompt plus new tokens of every row): batches are
# cut to fit it, so long prompts (few-shot exemplars) run fewer at a time and short ones up to `batch_size`.
# SmolLM2-135M keeps 46 KB a token in fp32 (23 KB in bf16): 640 MB is 64 answers of 200 tokens in fp32, or 13 of a
# 1,000-token few-shot prompt.
KV_CACHE_BYTES = 640 << 20


@dataclass
class Generation:
    """One prompt's completion: text up to (not including) the stop phrase, and why it ended."""

    text: str
    finish_reason: str  # "stop" (EOS or a stop phrase) or "length" (max_new_tokens reached)
    new_tokens: int  # tokens generated for this prompt, up to where it stopped


@dataclass
class GenerationStats:
    """Throughput of generation; a completion file records it (with the precision and batch size) as `generation`."""

    prompts: int
    new_tokens: int
    seconds: float
    precision: str | None = None
    batch_size: int | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        return {"precision": self.precision, "batch_size": self.batch_size, "new_tokens": self.new_tokens,
                "seconds": round(self.seconds, 3), "tokens_per_s": round(self.tokens_per_s, 2)}

    @classmethod
    def from_json(cls, raw: dict | None) -> GenerationStats | None:
        """The record a completion file keeps (None when it has none)."""
        if not isinstance(raw, dict):
            return None
        return cls(0, int(raw.get("new_tokens") or 0), float(raw.get("seconds") or 0.0), raw.get("precision"),
                   raw.get("batch_size"))


def trim_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text before the earliest stop phrase, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


def _stop_criteria(tokenizer: Any, stop: Sequence[str], prompt_len: int) -> Any:
    """A StoppingCriteria marking each row done once its generated text holds a stop phrase."""
    import torch
    from transformers import StoppingCriteria

    window = max(len(s) for s in stop) + 4  # tokens: each holds at least one character, plus slack for bytes

    class StopOnPhrases(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            start = max(prompt_len, input_ids.shape[1] - window)
            tails = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            return torch.tensor([trim_at_stop(t, stop)[1] for t in tails], device=input_ids.device)

    return StopOnPhrases()


class _CalculatorForcing:
    """A logits processor that lets each row's calculator choose its next token where it has one."""

    def __init__(self, tokenizer: Any, prompt_len: int, rows: int) -> None:
        from fcot.models.calculator import Calculator

        def decode(ids: list[int]) -> str:
            return tokenizer.decode(ids, skip_special_tokens=True)

        def encode(text: str) -> list[int]:
            return tokenizer(text, add_special_tokens=False).input_ids

        self.prompt_len = prompt_len
        self.calculators = [Calculator(decode, encode) for _ in range(rows)]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        for row, calculator in enumerate(self.calculators):
            token = calculator.forced(input_ids[row, self.prompt_len:].tolist())
            if token is not None:
                scores[row] = float("-inf")
                scores[row, token] = 0.0
        return scores


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """Token ids that end a completion: the tokenizer's EOS and pad, and the model's generation EOS."""
    ids = {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}
    gen_eos = model.generation_config.eos_token_id
    return ids | set(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])


def _generated_ids(row: list[int], stop_ids: set[int]) -> tuple[list[int], bool]:
    """The generated token ids up to the first EOS/pad, and whether one was found."""
    for i, token in enumerate(row):
        if token in stop_ids:
            return row[:i], True
    return row, False


def inference(device_type: str, compute_dtype: str | None = None, model: Any = None) -> contextlib.ExitStack:
    """Gradients off and, with `compute_dtype` (e.g. "bfloat16"), the matmuls autocast to it.

    An autocast runs under `torch.no_grad`, not `inference_mode`: autocast keeps a weight's bf16 copy for the whole
    region only outside inference mode, and only for weights that require grad; `model`'s frozen weights (a LoRA
    base being trained) are marked so for the region. Otherwise every weight is cast again at every decoding step,
    which made bf16 generation 1.6x slower and validation during LoRA training 1.4x slower, for the same tokens
    (`benchmarks/decode_step.py`, the weight cache alone).
    """
    import torch

    stack = contextlib.ExitStack()
    if not compute_dtype:
        stack.enter_context(torch.inference_mode())
        return stack
    stack.enter_context(torch.no_grad())
    params = model.parameters() if model is not None else ()
    frozen = [p for p in params if not p.requires_grad and p.is_floating_point()]
    for param in frozen:
        param.requires_grad_(True)

    def refreeze() -> None:
        for param in frozen:
            param.requires_grad_(False)

    stack.callback(refreeze)
    stack.enter_context(torch.autocast(device_type, dtype=getattr(torch, compute_dtype)))
    return stack


def cache_argument(model: Any) -> str:
    """The name of the KV-cache argument of model.forward (`cache` since transformers 5.x, else past_key_values); a
    peft model is asked about the model it wraps."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def kv_bytes_per_token(model: Any) -> int:
    """Bytes of key/value cache one token takes in the model (every layer, keys and values, its dtype)."""
    c = model.config.get_text_config()
    heads = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
    head_dim = getattr(c, "head_dim", None) or getattr(c, "d_kv", None) or c.hidden_size // c.num_attention_heads
    return 2 * c.num_hidden_layers * heads * head_dim * model.dtype.itemsize


def token_batches(order: Sequence[int], lengths: Sequence[int], batch_size: int, max_new_tokens: int,
                  tokens_in_flight: int) -> list[list[int]]:
    """Consecutive groups of `order` (longest prompt first) of at most `batch_size` rows whose padded prompts plus
    new tokens stay within `tokens_in_flight`; a prompt over the budget alone runs on its own."""
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else []
        longest = lengths[current[0]] if current else 0
        fits = (len(current) + 1) * (longest + max_new_tokens) <= tokens_in_flight
        if current and len(current) < batch_size and fits:
            current.append(i)
        else:
            batches.append([i])
    return batches


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    model_type: str = "decoder",
    max_new_tokens: int = 128,
    batch_size: int = 16,
    stop: Sequence[str] = (),
    temperature: float = 0.0,
    top_p: float = 1.0,
    compute_dtype: str | None = None,
    progress: Callable[[int], None] | None = None,
    calculator: bool = False,
) -> tuple[list[Generation], GenerationStats]:
    """Completions of prompts, batched by length (at most `batch_size` and KV_CACHE_BYTES of cache at once), in the
    order given; `progress(n)` after each batch.

    Greedy unless `temperature > 0`, which samples with that temperature and nucleus `top_p`.
    `compute_dtype="bfloat16"` runs the matmuls of an fp32 model in bf16 (autocast): weights, norms and the
    residual stream stay fp32, so answers track fp32 closely while the matmuls use native bf16 units.
    `calculator` writes the result after each arithmetic expression a completion ends in `=` (`fcot.models.calculator`).
    """
    import torch

    from fcot.models.roomy_cache import roomy_cache

    stop = tuple(s for s in stop if s)
    encoded = [tokenizer(p).input_ids for p in prompts]  # special tokens as the tokenizer adds them in training
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]), reverse=True)
    stop_ids = stop_token_ids(model, tokenizer)
    sampling = {"temperature": temperature, "top_p": top_p} if temperature > 0 else {}
    results: list[Generation | None] = [None] * len(prompts)
    total_new, started = 0, time.perf_counter()
    device = next(model.parameters()).device
    if compute_dtype and getattr(torch, compute_dtype) == model.dtype:
        compute_dtype = None  # the model computes in it already
    tokens_in_flight = max(KV_CACHE_BYTES // kv_bytes_per_token(model), 1)
    for batch in token_batches(order, [len(e) for e in encoded], batch_size, max_new_tokens, tokens_in_flight):
        side = "left" if model_type == "decoder" else "right"
        inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, padding_side=side, return_tensors="pt")
        inputs = inputs.to(device)
        prompt_len = inputs["input_ids"].shape[1] if model_type == "decoder" else 1  # enc-dec: the start token
        criteria = [_stop_criteria(tokenizer, stop, prompt_len)] if stop else []
        processors = [_CalculatorForcing(tokenizer, prompt_len, len(batch))] if calculator else []
        cache = {cache_argument(model): roomy_cache(model.config)} if model_type == "decoder" else {}
        with inference(device.type, compute_dtype, model):
            out = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=bool(sampling),
                **sampling,
                num_beams=1,
                use_cache=True,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=criteria or None,
                logits_processor=processors or None,
                **cache,
            )
        new = out[:, prompt_len:]
        for i, row in zip(batch, new.tolist()):
            ids, hit_eos = _generated_ids(row, stop_ids)
            text, hit_stop = trim_at_stop(tokenizer.decode(ids, skip_special_tokens=True), stop)
            total_new += len(ids)
            results[i] = Generation(text=text, finish_reason="stop" if hit_eos or hit_stop else "length",
                                    new_tokens=len(ids))
        if progress is not None:
            progress(len(batch))
    stats = GenerationStats(prompts=len(prompts), new_tokens=total_new, seconds=time.perf_counter() - started)
    log.info("generated %d tokens for %d prompts in %.1fs (%.1f tok/s)", stats.new_tokens, stats.prompts,
             stats.seconds, stats.tokens_per_s)
    return [r for r in results if r is not None], stats
