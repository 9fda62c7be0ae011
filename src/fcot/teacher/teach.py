"""`teach`: run the teacher over a task's questions and write the paper's `CompletionDataset`.

Zero-shot-CoT in two steps (Kojima et al., 2022): step 1 `Q: {question}\\nA: Let's think step by step.`
yields a rationale; step 2 appends the rationale, " \\n" and the task's answer trigger, and yields the
answer. With `samples` = D > 1 each question gets D rationales at `temperature` (diverse reasoning).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Callable

from fcot.errors import RequestFailed, TeacherError
from fcot.formats import CompletionDataset, check_writable, completion_path
from fcot.tasks import as_task
from fcot.teacher.backends import make_backend
from fcot.teacher.batch import BatchRequest, run_batch
from fcot.teacher.cache import CompletionCache, default_cache_path
from fcot.teacher.config import TeachConfig
from fcot.teacher.engine import Completer, Sampling, Stats, gather, run_interruptible
from fcot.teacher.openai_backend import EndpointConfig, OpenAIBackend
from fcot.teacher.pricing import load_prices, price_for
from fcot.templates import TEMPLATES

log = logging.getLogger(__name__)

MODEL_FILE_SUFFIXES = (".gguf", ".safetensors", ".bin", ".pt", ".pth", ".onnx")


def _row(sample: dict, index: int, prompt: str, answer, reasoning_prompt=None, rationale=None) -> dict:
    return {
        "sample_index": sample["sample_index"], "completion_index": index, "question": sample["question"],
        "answer": sample["answer"], "prompt": prompt, "completion": answer.text, "finish_reason": answer.finish_reason,
        "reasoning_prompt": reasoning_prompt, "reasoning_completion": rationale.text if rationale else None,
        "reasoning_finish_reason": rationale.finish_reason if rationale else None,
    }


class _Run:
    """One teach run: prompts, requests, and the output file."""

    def __init__(self, config: TeachConfig, completer: Completer, task, samples: list[dict], path: Path,
                 on_progress: Callable[[Stats], None] | None, name: str) -> None:
        self.config, self.completer, self.task, self.samples, self.path = config, completer, task, samples, path
        self.name = name  # the teacher's name in the output (`base_model`)
        self.on_progress = on_progress or (lambda stats: None)
        self.rows: dict[int, list[dict]] = {}
        self.failed: dict[int, str] = {}
        self.step1 = Sampling(config.max_tokens, config.temperature, config.top_p)
        self.step2 = Sampling(config.answer_max_tokens, 0.0, 1.0)  # answer extraction is greedy
        self.in_flight = asyncio.Semaphore(config.concurrency)  # questions under way: finish some before starting all

    def prompt(self, sample: dict, rationale: str | None = None, reasoning_prompt: str | None = None) -> str:
        from fcot.templates import format_input

        prompt = self.config.prompt
        if not TEMPLATES[prompt].two_step:
            return format_input(prompt, sample, task=self.task, data_dir=self.config.data_dir)
        if rationale is None:
            return format_input(prompt, sample, step=1)
        step2 = {**sample, "reasoning_prompt": reasoning_prompt, "reasoning_completion": rationale}
        return format_input(prompt, step2, task=self.task, step=2)

    async def sample(self, sample: dict) -> None:
        """Complete one question (all D samples and both steps), or record why it failed."""
        async with self.in_flight:
            await self._sample(sample)
        self.on_progress(self.completer.stats)

    async def _sample(self, sample: dict) -> None:
        indices = list(range(self.config.samples))
        try:
            first = self.prompt(sample)
            outs = await self.completer.complete(first, self.step1, indices, sample["sample_index"])
            if not TEMPLATES[self.config.prompt].two_step:
                rows = [_row(sample, i, first, out) for i, out in zip(indices, outs)]
            else:
                async def answer(i: int, rationale) -> dict:
                    second = self.prompt(sample, rationale.text, first)
                    (out,) = await self.completer.complete(second, self.step2, [i], sample["sample_index"])
                    return _row(sample, i, second, out, first, rationale)

                rows = await gather(answer(i, r) for i, r in zip(indices, outs))
        except RequestFailed as exc:
            self.failed[sample["sample_index"]] = str(exc)
            self.completer.stats.failed += 1
        else:
            self.rows[sample["sample_index"]] = rows
            self.completer.stats.done += 1

    async def batch_phase(self) -> None:
        """Send both steps through the Batch API first; the sample loop then reads the cache only."""
        poll, rounds = self.config.batch_poll, self.config.max_retries + 1
        indices = tuple(range(self.config.samples))
        firsts = {s["sample_index"]: self.prompt(s) for s in self.samples}
        await run_batch(self.completer, [BatchRequest(p, self.step1, indices) for p in firsts.values()], poll, rounds)
        seconds = []
        if TEMPLATES[self.config.prompt].two_step:
            for s in self.samples:
                for i in indices:
                    rationale = self.completer.cached(firsts[s["sample_index"]], self.step1, i)
                    if rationale is not None:
                        second = self.prompt(s, rationale.text, firsts[s["sample_index"]])
                        seconds.append(BatchRequest(second, self.step2, (i,)))
            await run_batch(self.completer, seconds, poll, rounds)
        self.completer.offline = True

    def dataset(self, complete: bool) -> CompletionDataset:
        """The CompletionDataset so far, in the task's sample order, with run metadata."""
        c, stats = self.config, self.completer.stats
        total = stats.usage.to_json()
        for name in ("requests", "prompt_tokens", "completion_tokens", "dollars"):
            total[name] = round(total[name] + getattr(stats.replayed, name), 6)
        metadata = {
            "dataset_key": self.task.key, "base_model": self.name, "finetune_key": None,
            "train_key": None, "prediction_template": c.prompt, "completion_key": c.completion_key,
            "teacher": c.teacher, "base_url": c.base_url, "chat": c.chat, "temperature": c.temperature,
            "top_p": c.top_p, "samples": c.samples, "max_tokens": c.max_tokens,
            "answer_max_tokens": c.answer_max_tokens, "split": c.split, "batch": c.batch,
            "usage": total, "estimated_cost_usd": total["dollars"],
            "price_usd_per_1m_tokens": [self.completer.price.input, self.completer.price.output],
            "complete": complete and not self.failed, "failed_samples": sorted(self.failed),
        }
        data = {s["sample_index"]: self.rows[s["sample_index"]] for s in self.samples if s["sample_index"] in self.rows}
        return CompletionDataset(metadata=metadata, data=data)

    async def run(self) -> CompletionDataset:
        """Complete every sample, saving partial results periodically and the final file atomically."""
        async def saver() -> None:
            while True:
                await asyncio.sleep(self.config.save_every)
                self.dataset(complete=False).save(self.path)

        if self.config.batch:
            await self.batch_phase()
        save_task = asyncio.create_task(saver())
        tasks = [asyncio.create_task(self.sample(s)) for s in self.samples]
        finished = False
        try:
            await asyncio.gather(*tasks)  # a fatal EndpointFailed surfaces here; per-sample failures do not
            finished = True
        finally:
            for task in [save_task, *tasks]:
                task.cancel()
            if self.rows or finished:
                self.dataset(complete=finished).save(self.path)
        return self.dataset(complete=True)


def teacher_label(model_name: str) -> str:
    """A teacher's name in output folders: a model file or path (llama.cpp reports `/x/y/m.Q4_1.gguf`) by its stem."""
    is_path = model_name.startswith(("/", "~", ".")) or re.match(r"[A-Za-z]:[\\/]", model_name)
    if not (is_path or model_name.lower().endswith(MODEL_FILE_SUFFIXES)):
        return model_name
    base = re.split(r"[\\/]", model_name.rstrip("/\\"))[-1]
    suffix = next((s for s in MODEL_FILE_SUFFIXES if base.lower().endswith(s)), "")
    return base[: len(base) - len(suffix)] or model_name


def output_path(config: TeachConfig, model_name: str, task_key: str) -> Path:
    """Where the CompletionDataset goes: `completion_data/B_<model>__C_<key>/D_<task>.json` under out."""
    return completion_path(config.out, model_name, config.completion_key, task_key)


def load_questions(config: TeachConfig, task) -> list[dict]:
    """The samples of the chosen split, in split order, cut to `limit`."""
    return task.questions(config.split, config.data_dir, config.limit)


async def teach_async(config: TeachConfig, on_progress: Callable[[Stats], None] | None = None,
                      stats: Stats | None = None) -> CompletionDataset:
    """Run the teacher; raises TeacherError (after writing what succeeded) when samples fail for good."""
    check_writable(config.out)
    task = as_task(config.task)
    samples = load_questions(config, task)
    stats = stats or Stats()
    stats.total = len(samples)
    endpoint = EndpointConfig(
        model="", base_url=config.base_url, api_key_env=config.api_key_env, chat=config.chat,
        concurrency=config.concurrency, requests_per_minute=config.requests_per_minute,
        tokens_per_minute=config.tokens_per_minute, max_retries=config.max_retries, timeout=config.timeout,
        backoff=config.backoff,
    )
    cache = CompletionCache(config.cache or default_cache_path())
    try:
        backend = make_backend(config.teacher, task.key, endpoint, stats, config.data_dir)
        try:
            name = config.teacher_name or teacher_label(backend.model_name)
            path = output_path(config, name, task.key)
            check_writable(path.parent)
            price = price_for(backend.model_name, load_prices(config.prices), batch=config.batch)
            run = _Run(config, Completer(backend, cache, price, stats), task, samples, path, on_progress, name)
            started = time.monotonic()
            if isinstance(backend, OpenAIBackend):
                await backend.check()
            result = await run.run()
        finally:
            await backend.aclose()
    finally:
        cache.close()
    log.info("teach %s: %d samples in %.1fs", task.key, len(samples), time.monotonic() - started)
    if run.failed:
        raise TeacherError(_failure_summary(run.failed, len(samples), path))
    return result


def _failure_summary(failed: dict[int, str], total: int, path: Path) -> str:
    """One line: how many failed, which, the first reason, where the rest is, and how to retry."""
    indices = sorted(failed)
    shown = ", ".join(map(str, indices[:20])) + (", ..." if len(indices) > 20 else "")
    return (f"{len(indices)} of {total} samples failed permanently (sample_index {shown}; first: "
            f"{failed[indices[0]]}); the others are in {path}; re-run the same command to retry only the failed ones")


def teach(config: TeachConfig, on_progress: Callable[[Stats], None] | None = None,
          stats: Stats | None = None) -> CompletionDataset:
    """Synchronous `teach_async`."""
    return run_interruptible(teach_async(config, on_progress, stats))
