"""A student answers a task split (`evaluate_model`): its completions are saved as a CompletionDataset and scored.

Completions are saved after every chunk, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Sequence

from fcot.errors import ConfigError, DataError
from fcot.evaluate.evaluator import Evaluation, evaluate_completions
from fcot.formats import CompletionDataset, check_sampling, completion_path, sampled_key
from fcot.precision import resolve_precision
from fcot.models.generate import Generation, GenerationStats, generate
from fcot.models.loading import LoadedModel
from fcot.tasks import Task, as_task
from fcot.templates import ZS_COT_ANSWER_TOKENS, format_input, get_template

log = logging.getLogger(__name__)


def answers_path(out_root: str | Path, base_model: str, template: str, task_key: str, finetune_key: str | None = None,
                 samples: int = 1, temperature: float = 0.0) -> Path:
    """Where a student's answers go: `completion_data/B_<base>__C_<key>/[F_<finetune>__]D_<task>.json`, the key
    being the template, or its sampled name (`fcot.formats.sampled_key`) for D samples at a temperature."""
    return completion_path(out_root, base_model, sampled_key(template, samples, temperature), task_key,
                           finetune_key=finetune_key)


def evaluate_model(
    loaded: Any,
    task: str | Task,
    template: str,
    split: str = "test",
    limit: int | None = None,
    out_root: str | Path = "fcot-out",
    finetune_key: str | None = None,
    base_model: str | None = None,
    batch_size: int = 64,
    max_new_tokens: int | None = None,
    stop: Sequence[str] | None = None,
    precision: str = "auto",
    split_name: str = "default",
    data_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[], object] | None = None,
    samples: int = 1,
    temperature: float = 0.0,
    questions: Sequence[int] | None = None,
) -> tuple[CompletionDataset, Evaluation]:
    """Generate the student's answers to a task split with a template, save them, and score them.

    `samples` = D > 1 answers each question D times at `temperature` (e.g. a student sampling its own
    rationales on the train split for self-training); the file is then named by `fcot.formats.sampled_key`
    and the score is that of the first sample.

    `loaded` is a LoadedModel (torch) or an exported model from `fcot.models.edge.load_edge` (one prompt at a time).
    `stop` and `max_new_tokens` default to the template's (`fcot.templates.Template`);
    `precision` follows `fcot.precision` (auto: bf16 matmuls where the hardware has them, else fp32) for torch
    models; an export runs at the precision it was written in.
    `on_start()` is called once the inputs are checked, before generating; `progress(n)` after each batch.
    `questions`: these sample indices (e.g. a run's validation questions, with `split="validation"`) instead of the
    split's part.
    """
    task = as_task(task)
    check_sampling(samples, temperature)
    if temperature > 0 and not isinstance(loaded, LoadedModel):
        raise ConfigError("--temperature needs a torch model: an export answers greedily; sample with the run folder")
    resolved = resolve_precision(precision, str(loaded.model.device)) if isinstance(loaded, LoadedModel) else None
    compute_dtype = resolved.torch_dtype if resolved else None  # an export runs at the precision it was written in
    indices = list(questions) if questions is not None else task.load_split(split_name, data_dir).get(split)
    if indices is None:
        raise ConfigError(f"task {task.key}: split {split_name!r} has no part {split!r}; use train or test")
    indices = indices[:limit] if limit else indices
    questions = task.load_dataset(data_dir).select(indices)
    prompts = {s["sample_index"]: format_input(template, s, loaded.model_type, task, data_dir=data_dir)
               for s in questions}  # also rejects a template this model type cannot use
    base = base_model or (Path(loaded.name).name if Path(loaded.name).exists() else loaded.name)
    path = answers_path(out_root, base, template, task.key, finetune_key, samples, temperature)
    cd = _load_or_new(path, task.key, base, template, finetune_key)
    todo = [(s, j) for j in range(samples) for s in questions if not _done(cd, s["sample_index"], j)]
    todo.sort(key=lambda pair: len(prompts[pair[0]["sample_index"]]))  # similar lengths share a chunk, then a batch
    spec = get_template(template)
    limit_tokens = max_new_tokens or spec.max_new_tokens
    stop = tuple(spec.stop if stop is None else stop)
    cd.metadata.update({"split": split, "max_new_tokens": limit_tokens, "stop": list(stop),
                        "completion_key": sampled_key(template, samples, temperature), "samples": samples,
                        "temperature": temperature})
    if todo:
        total = len(questions) * samples
        log.info("%s: %d of %d completions to generate, %d already in %s", task.key, len(todo), total,
                 total - len(todo), path)
    if on_start is not None:  # the inputs are checked: the work starts
        on_start()
    stats = GenerationStats(prompts=0, new_tokens=0, seconds=0.0)
    chunk = max(batch_size * 4, 1)  # save after every chunk so an interrupted run resumes
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        rows, part_stats = _complete(loaded, task, template, part, limit_tokens, data_dir, progress,
                                     dict(batch_size=batch_size, stop=stop, compute_dtype=compute_dtype),
                                     temperature)
        for row in rows:
            cd.add(row)
        stats = GenerationStats(stats.prompts + part_stats.prompts, stats.new_tokens + part_stats.new_tokens,
                                stats.seconds + part_stats.seconds)
        cd.metadata["generation"] = {"precision": resolved.name if resolved else loaded.dtype, "batch_size": batch_size,
                                     "new_tokens": stats.new_tokens, "seconds": round(stats.seconds, 3),
                                     "tokens_per_s": round(stats.tokens_per_s, 2)}
        cd.save(path)
    if not todo and not path.exists():
        cd.save(path)
    evaluation = evaluate_completions(cd, sample_indices=indices, completion_indices=[0], task=task)
    return cd, evaluation


def _generate(loaded: Any, prompts: list[str], max_new_tokens: int, progress: Callable[[int], None] | None,
              options: dict) -> tuple[list[Generation], GenerationStats]:
    """Completions of prompts by a torch model (batched) or an exported one (its own `generate`)."""
    if isinstance(loaded, LoadedModel):
        return generate(loaded.model, loaded.tokenizer, prompts, model_type=loaded.model_type,
                        max_new_tokens=max_new_tokens, progress=progress, **options)
    return loaded.generate(prompts, max_new_tokens=max_new_tokens, stop=options["stop"], progress=progress)


def _done(cd: CompletionDataset, sample_index: int, completion_index: int = 0) -> bool:
    rows = cd.data.get(sample_index, [])
    return any(r.get("completion_index") == completion_index and isinstance(r.get("completion"), str) for r in rows)


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
    loaded: Any, task: Task, template: str, todo: list[tuple[dict, int]], max_new_tokens: int,
    data_dir: str | Path | None, progress: Callable[[int], None] | None, options: dict, temperature: float = 0.0,
) -> tuple[list[dict], GenerationStats]:
    """Completion records for (sample, completion index) pairs (two generation steps for zs_cot, whose second,
    the answer, is greedy); the rationale is sampled at `temperature` above 0."""
    rows = [{"sample_index": s["sample_index"], "completion_index": j, "question": s["question"],
             "answer": s["answer"]} for s, j in todo]
    sampled = {**options, "temperature": temperature} if temperature > 0 else options  # where the rationale is written
    stats = GenerationStats(prompts=0, new_tokens=0, seconds=0.0)
    if template == "zs_cot":
        for row in rows:
            row["reasoning_prompt"] = format_input(template, row, loaded.model_type, task, step=1)
        outs, stats = _generate(loaded, [r["reasoning_prompt"] for r in rows], max_new_tokens, None, sampled)
        for row, out in zip(rows, outs):
            row.update(reasoning_completion=out.text, reasoning_finish_reason=out.finish_reason)
        max_new_tokens = ZS_COT_ANSWER_TOKENS
    for row in rows:
        row["prompt"] = format_input(template, row, loaded.model_type, task, step=2 if template == "zs_cot" else 1,
                                     data_dir=data_dir)
    final = options if template == "zs_cot" else sampled  # zs_cot's step 2 only states the answer: greedy
    outs, answer_stats = _generate(loaded, [r["prompt"] for r in rows], max_new_tokens, progress, final)
    for row, out in zip(rows, outs):
        row.update(completion=out.text, finish_reason=out.finish_reason)
    total = GenerationStats(len(rows), stats.new_tokens + answer_stats.new_tokens, stats.seconds + answer_stats.seconds)
    return rows, total
