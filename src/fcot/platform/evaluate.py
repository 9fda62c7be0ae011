"""Evaluate a student fine-tuned on a hosted platform through the teacher's OpenAI-compatible inference path.

Same backend, SQLite cache, concurrency and retries as `fcot teach`; the completions go to the paper's
`completion_data/B_<base>__C_<template>/F_<finetune_key>__D_<dataset>.json` and are scored by `fcot.evaluate`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fcot.errors import ConfigError, PlatformError, RequestFailed
from fcot.evaluate import Evaluation, evaluate_completions
from fcot.formats import DEFAULT_OUT, CompletionDataset, completion_path, model_metadata_path
from fcot.platform.api import API_KEY_ENV, read_api_key
from fcot.platform.data import format_for_model
from fcot.platform.metadata import ModelMetadata, load_model_metadata
from fcot.tasks import get_task
from fcot.teacher.cache import CompletionCache, default_cache_path
from fcot.teacher.engine import Completer, Sampling, Stats, run_interruptible
from fcot.teacher.openai_backend import EndpointConfig, OpenAIBackend
from fcot.templates import DEFAULT_TEMPLATE, STOP_PHRASE, format_input

log = logging.getLogger(__name__)


@dataclass
class PlatformEvalConfig:
    """What `fcot eval --platform openai` needs; the defaults follow the paper's student inference."""

    finetune_key: str
    task: str | None = None  # default: the task the training file was curated from
    template: str | None = None  # default: the template it was curated with, else DEFAULT_TEMPLATE
    split: str = "test"
    limit: int | None = None  # only the first N questions (cheap trial runs)
    max_tokens: int = 256  # rationale + answer length limit
    stop_phrase: str = STOP_PHRASE  # the training labels end with it
    base_url: str | None = None  # default: the base URL recorded when training
    api_key_env: str = API_KEY_ENV
    concurrency: int = 16
    max_retries: int = 6
    timeout: float = 60.0
    backoff: float = 1.0
    cache: Path | None = None  # SQLite cache (default: the one `fcot teach` uses)
    out: Path = DEFAULT_OUT  # root holding model_metadata/, written completion_data/
    data_dir: Path | None = None


def fine_tuned_model(out: str | Path, finetune_key: str) -> ModelMetadata:
    """The metadata of a finished fine-tune, or PlatformError saying what to do."""
    meta = load_model_metadata(out, finetune_key)
    where = model_metadata_path(out, finetune_key)
    if meta is None:
        raise PlatformError(f"{where}: no such file; train first with fcot train --platform openai "
                            f"--finetune-key {finetune_key}")
    if not meta.fine_tuned_model:
        raise PlatformError(f"{where}: job {meta.job_id} has no fine-tuned model (status {meta.status}); "
                            f"follow it with fcot train --platform openai --finetune-key {finetune_key}")
    return meta


async def _complete(completer: Completer, prompts: dict[int, str], sampling: Sampling,
                    on_progress: Callable[[Stats], None]) -> tuple[dict, dict]:
    """Answers and failures per sample index, all requests in flight at once (the backend bounds concurrency)."""
    answers, failed = {}, {}

    async def one(index: int, prompt: str) -> None:
        try:
            (answers[index],) = await completer.complete(prompt, sampling, [0])
            completer.stats.done += 1
        except RequestFailed as exc:
            failed[index] = str(exc)
            completer.stats.failed += 1
        on_progress(completer.stats)

    await asyncio.gather(*(one(i, p) for i, p in prompts.items()))
    return answers, failed


async def evaluate_platform_model_async(
    config: PlatformEvalConfig, on_progress: Callable[[Stats], None] | None = None, stats: Stats | None = None
) -> tuple[CompletionDataset, Evaluation, Path]:
    """Complete the task's questions with the fine-tuned model, save the CompletionDataset, and score it."""
    meta = fine_tuned_model(config.out, config.finetune_key)
    read_api_key(config.api_key_env)
    if not (config.task or meta.dataset_key):
        raise ConfigError(f"{config.finetune_key}: no task recorded for this fine-tune; pass --task")
    task = get_task(config.task or meta.dataset_key)
    template = config.template or meta.template or DEFAULT_TEMPLATE
    samples = task.questions(config.split, config.data_dir, config.limit)
    prompts = {s["sample_index"]: format_input(template, s, task=task, data_dir=config.data_dir) for s in samples}
    chat = (meta.data_format or format_for_model(meta.base_model or "")) == "chat"
    endpoint = EndpointConfig(model=meta.fine_tuned_model, base_url=config.base_url or meta.base_url,
                              api_key_env=config.api_key_env, chat=chat, concurrency=config.concurrency,
                              max_retries=config.max_retries, timeout=config.timeout, backoff=config.backoff)
    stats = stats or Stats()
    stats.total = len(samples)
    backend = OpenAIBackend(endpoint, stats)
    cache = CompletionCache(config.cache or default_cache_path())
    sampling = Sampling(config.max_tokens, 0.0, 1.0, (config.stop_phrase,) if config.stop_phrase else None)
    try:
        await backend.check()
        answers, failed = await _complete(Completer(backend, cache, stats=stats), prompts, sampling,
                                          on_progress or (lambda s: None))
    finally:
        await backend.aclose()
        cache.close()

    base_model = meta.base_model or meta.fine_tuned_model
    path = completion_path(config.out, base_model, template, task.key, finetune_key=config.finetune_key)
    metadata = {
        "dataset_key": task.key, "base_model": base_model, "finetune_key": config.finetune_key, "train_key": None,
        "prediction_template": template, "completion_key": template, "platform": meta.platform,
        "fine_tuned_model": meta.fine_tuned_model, "base_url": endpoint.url, "chat": chat, "temperature": 0.0,
        "max_tokens": config.max_tokens, "stop": list(sampling.stop or []), "split": config.split,
        "usage": stats.usage.to_json(), "complete": not failed, "failed_samples": sorted(failed),
    }
    rows = {i: [{"sample_index": i, "completion_index": 0, "question": s["question"], "answer": s["answer"],
                 "prompt": prompts[i], "completion": answers[i].text, "finish_reason": answers[i].finish_reason}]
            for s in samples if (i := s["sample_index"]) in answers}
    cd = CompletionDataset(metadata=metadata, data=rows)
    cd.save(path)
    if failed:
        first = min(failed)
        raise PlatformError(f"{len(failed)} of {len(samples)} samples failed (first, sample_index {first}: "
                            f"{failed[first]}); the others are in {path}; re-run the same command to retry them")
    evaluation = evaluate_completions(cd, task=task)
    log.info("%s on %s: accuracy %.4f over %d samples", meta.fine_tuned_model, task.key, evaluation.accuracy,
             evaluation.n)
    return cd, evaluation, path


def evaluate_platform_model(
    config: PlatformEvalConfig, on_progress: Callable[[Stats], None] | None = None, stats: Stats | None = None
) -> tuple[CompletionDataset, Evaluation, Path]:
    """Synchronous `evaluate_platform_model_async`."""
    return run_interruptible(evaluate_platform_model_async(config, on_progress, stats))
