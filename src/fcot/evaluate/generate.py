"""Batched greedy generation for decoder and encoder-decoder students, stopping at a stop phrase.

Prompts are sorted by length into batches (little padding; decoders pad on the left), run with the KV cache,
cut at the first EOS or stop phrase, and returned in the caller's order.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from fcot.errors import ConfigError, DataError
from fcot.evaluate.evaluator import Evaluation, evaluate_completions
from fcot.formats import CompletionDataset, completion_path
from fcot.student.model import LoadedModel
from fcot.tasks import Task, as_task
from fcot.templates import format_input

log = logging.getLogger(__name__)

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # CPU features with native bf16 matmuls (else bf16 is emulated, slow)


@dataclass
class Generation:
    """One prompt's completion: text up to (not including) the stop phrase, and why it ended."""

    text: str
    finish_reason: str  # "stop" (EOS or a stop phrase) or "length" (max_new_tokens reached)
    new_tokens: int  # tokens generated for this prompt, up to where it stopped


@dataclass
class GenerationStats:
    """Throughput of one `generate` call."""

    prompts: int
    new_tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bf16 natively (AMX or AVX512-BF16), read from /proc/cpuinfo."""
    try:
        flags = cpuinfo.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def pick_dtype(device: str = "cpu") -> str:
    """The fastest safe dtype for generation: bfloat16 on CUDA or on CPUs with native bf16, else float32."""
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "bfloat16" if sys.platform == "linux" and cpu_has_native_bf16() else "float32"


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


def _generated_ids(row: list[int], stop_ids: set[int]) -> tuple[list[int], bool]:
    """The generated token ids up to the first EOS/pad, and whether one was found."""
    for i, token in enumerate(row):
        if token in stop_ids:
            return row[:i], True
    return row, False


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    model_type: str = "decoder",
    max_new_tokens: int = 128,
    batch_size: int = 16,
    stop: Sequence[str] = (),
    compute_dtype: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Generation], GenerationStats]:
    """Greedy completions of prompts, batched by length, in the order given; `progress(n)` after each batch.

    `compute_dtype="bfloat16"` runs the matmuls of an fp32 model in bf16 (autocast): weights, norms and the
    residual stream stay fp32, so answers track fp32 closely while the matmuls use native bf16 units.
    """
    import contextlib

    import torch

    stop = tuple(s for s in stop if s)
    encoded = [tokenizer(p).input_ids for p in prompts]  # special tokens as the tokenizer adds them in training
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]), reverse=True)
    stop_ids = {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}
    gen_eos = model.generation_config.eos_token_id
    stop_ids |= set(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
    results: list[Generation | None] = [None] * len(prompts)
    total_new, started = 0, time.perf_counter()
    device = next(model.parameters()).device
    autocast = contextlib.nullcontext()
    if compute_dtype and getattr(torch, compute_dtype) != model.dtype:
        autocast = torch.autocast(device.type, dtype=getattr(torch, compute_dtype))
    for b in range(0, len(order), batch_size):
        batch = order[b:b + batch_size]
        side = "left" if model_type == "decoder" else "right"
        inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, padding_side=side, return_tensors="pt")
        inputs = inputs.to(device)
        prompt_len = inputs["input_ids"].shape[1] if model_type == "decoder" else 1  # enc-dec: the start token
        criteria = [_stop_criteria(tokenizer, stop, prompt_len)] if stop else []
        with torch.inference_mode(), autocast:
            out = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                use_cache=True,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=criteria or None,
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


# --- a student answers a task's test split ------------------------------------------------------------

PROMPT_STOP = ("\nQ:",)  # prompting baselines: a small model goes on to invent the next question
FINETUNE_STOP = ("END",)  # fine-tuned students learned labels ending in " END" (the paper's stop phrase)
DEFAULT_MAX_NEW_TOKENS = {"zs": 32, "ft_token": 32, "zs_cot": 128, "fs_cot": 128, "ft_cot_token": 128,
                          "ft_cot_natural": 128}
ZS_COT_ANSWER_TOKENS = 32  # step 2 of Zero-shot-CoT only states the answer


def stop_phrases(template: str) -> tuple[str, ...]:
    """Where a completion made with this template ends."""
    return FINETUNE_STOP if template.startswith("ft_") else PROMPT_STOP


def evaluate_model(
    loaded: LoadedModel,
    task: str | Task,
    template: str,
    split: str = "test",
    limit: int | None = None,
    out_root: str | Path = "fcot-out",
    finetune_key: str | None = None,
    base_model: str | None = None,
    batch_size: int = 16,
    max_new_tokens: int | None = None,
    stop: Sequence[str] | None = None,
    compute_dtype: str | None = None,
    split_name: str = "default",
    data_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[CompletionDataset, Evaluation]:
    """Generate the student's answers to a task split with a template, save them, and score them.

    `stop` defaults to the template's stop phrases (" END" labels for fine-tuned templates, "\\nQ:" for prompts);
    `compute_dtype="bfloat16"` runs the matmuls in bf16 (see `generate`).
    """
    task = as_task(task)
    indices = task.load_split(split_name, data_dir).get(split)
    if indices is None:
        raise ConfigError(f"task {task.key}: split {split_name!r} has no part {split!r}; use train or test")
    indices = indices[:limit] if limit else indices
    samples = task.load_dataset(data_dir).select(indices)
    prompts = {s["sample_index"]: format_input(template, s, loaded.model_type, task, data_dir=data_dir)
               for s in samples}  # also rejects a template this model type cannot use
    base = base_model or (Path(loaded.name).name if Path(loaded.name).exists() else loaded.name)
    path = completion_path(out_root, base, template, task.key, finetune_key=finetune_key)
    cd = _load_or_new(path, task.key, base, template, finetune_key)
    todo = [s for s in samples if not _done(cd, s["sample_index"])]
    todo.sort(key=lambda s: len(prompts[s["sample_index"]]))  # similar lengths share a chunk, then a batch
    limit_tokens = max_new_tokens or DEFAULT_MAX_NEW_TOKENS[template]
    stop = tuple(stop_phrases(template) if stop is None else stop)
    cd.metadata.update({"split": split, "max_new_tokens": limit_tokens, "stop": list(stop)})
    if todo:
        log.info("%s: %d of %d samples to generate, %d already in %s", task.key, len(todo), len(samples),
                 len(samples) - len(todo), path)
    stats = GenerationStats(prompts=0, new_tokens=0, seconds=0.0)
    chunk = max(batch_size * 4, 1)  # save after every chunk so an interrupted run resumes
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        rows, part_stats = _complete(loaded, task, template, part, limit_tokens, data_dir, progress,
                                     dict(batch_size=batch_size, stop=stop, compute_dtype=compute_dtype))
        for row in rows:
            cd.add(row)
        stats = GenerationStats(stats.prompts + part_stats.prompts, stats.new_tokens + part_stats.new_tokens,
                                stats.seconds + part_stats.seconds)
        dtype = compute_dtype or str(loaded.model.dtype).removeprefix("torch.")
        cd.metadata["generation"] = {"dtype": dtype, "batch_size": batch_size,
                                     "new_tokens": stats.new_tokens, "seconds": round(stats.seconds, 3),
                                     "tokens_per_s": round(stats.tokens_per_s, 2)}
        cd.save(path)
    if not todo and not path.exists():
        cd.save(path)
    evaluation = evaluate_completions(cd, sample_indices=indices, completion_indices=[0], task=task)
    return cd, evaluation


def _done(cd: CompletionDataset, sample_index: int) -> bool:
    rows = cd.data.get(sample_index, [])
    return any(r.get("completion_index") == 0 and isinstance(r.get("completion"), str) for r in rows)


def _load_or_new(path: Path, dataset_key: str, base: str, template: str, finetune_key: str | None) -> CompletionDataset:
    """The existing completions at path (to resume), or an empty CompletionDataset."""
    if not path.exists():
        return CompletionDataset(metadata={"dataset_key": dataset_key, "base_model": base, "finetune_key": finetune_key,
                                           "train_key": None, "prediction_template": template})
    cd = CompletionDataset.load(path)
    if cd.dataset_key != dataset_key or cd.prediction_template != template:
        raise DataError(f"{path}: holds {cd.dataset_key}/{cd.prediction_template} completions, not "
                        f"{dataset_key}/{template}; move it away or pick another --out")
    return cd


def _complete(
    loaded: LoadedModel, task: Task, template: str, samples: list[dict], max_new_tokens: int,
    data_dir: str | Path | None, progress: Callable[[int], None] | None, options: dict,
) -> tuple[list[dict], GenerationStats]:
    """Completion records for samples (two generation steps for zs_cot)."""
    rows = [{"sample_index": s["sample_index"], "completion_index": 0, "question": s["question"],
             "answer": s["answer"]} for s in samples]
    run = dict(model_type=loaded.model_type, **options)
    stats = GenerationStats(prompts=0, new_tokens=0, seconds=0.0)
    if template == "zs_cot":
        for row in rows:
            row["reasoning_prompt"] = format_input(template, row, loaded.model_type, task, step=1)
        outs, stats = generate(loaded.model, loaded.tokenizer, [r["reasoning_prompt"] for r in rows],
                               max_new_tokens=max_new_tokens, **run)
        for row, out in zip(rows, outs):
            row.update(reasoning_completion=out.text, reasoning_finish_reason=out.finish_reason)
        max_new_tokens = ZS_COT_ANSWER_TOKENS
    for row in rows:
        row["prompt"] = format_input(template, row, loaded.model_type, task, step=2 if template == "zs_cot" else 1,
                                     data_dir=data_dir)
    outs, answer_stats = generate(loaded.model, loaded.tokenizer, [r["prompt"] for r in rows],
                                  max_new_tokens=max_new_tokens, progress=progress, **run)
    for row, out in zip(rows, outs):
        row.update(completion=out.text, finish_reason=out.finish_reason)
    total = GenerationStats(len(rows), stats.new_tokens + answer_stats.new_tokens, stats.seconds + answer_stats.seconds)
    return rows, total
