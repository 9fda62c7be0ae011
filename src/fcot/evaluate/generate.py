"""A student answers a task split (`evaluate_model`): its completions are saved as a CompletionDataset and scored.

Completions are saved after every chunk, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from fcot.errors import ConfigError, DataError
from fcot.evaluate.evaluator import Evaluation, evaluate_completions
from fcot.formats import DEFAULT_OUT, CompletionDataset, check_sampling, completion_path, sampled_key
from fcot.models.completions import Completions, GenParams
from fcot.models.generate import GenerationStats
from fcot.tasks import DEFAULT_SPLIT, Task, as_task
from fcot.templates import ZS_COT_ANSWER_TOKENS, format_input, get_template

log = logging.getLogger(__name__)


def answers_key(template: str, samples: int = 1, temperature: float = 0.0, calculator: bool = False) -> str:
    """The completion key of a student's answers: the template, or its sampled name (`fcot.formats.sampled_key`)
    for D samples at a temperature, ending `_calc` when a calculator wrote their arithmetic."""
    return sampled_key(template, samples, temperature) + ("_calc" if calculator else "")


def answers_path(out_root: str | Path, base_model: str, template: str, task_key: str, finetune_key: str | None = None,
                 samples: int = 1, temperature: float = 0.0, calculator: bool = False) -> Path:
    """Where a student's answers go: `completion_data/B_<base>__C_<key>/[F_<finetune>__]D_<task>.json`, the key
    from `answers_key`."""
    return completion_path(out_root, base_model, answers_key(template, samples, temperature, calculator), task_key,
                           finetune_key=finetune_key)


GENERATION_KEY = "generation"  # a completion file's record of its generation: precision, batch size, tokens/s
EVAL_BATCH_SIZE = 64  # prompts generated together: fast batched decoding within a laptop's memory


@dataclass(frozen=True)
class EvalOptions:
    """Which questions a student answers, with what budget, and where its answers go.

    `questions`: these sample indices (e.g. a run's validation questions, with `split="validation"`) instead of the
    split's part; `limit` keeps the first N. `samples` = D > 1 answers each question D times at `temperature`
    (e.g. a student sampling its own rationales for self-training): the file is then named by
    `fcot.formats.sampled_key` and the score is that of the first sample. `max_new_tokens` and `stop` default to the
    template's (`fcot.templates.Template`).
    """

    split: str = "test"
    split_name: str = DEFAULT_SPLIT
    questions: Sequence[int] | None = None
    limit: int | None = None
    samples: int = 1
    temperature: float = 0.0
    batch_size: int = EVAL_BATCH_SIZE
    max_new_tokens: int | None = None
    stop: Sequence[str] | None = None
    out_root: str | Path = DEFAULT_OUT
    finetune_key: str | None = None
    base_model: str | None = None
    data_dir: str | Path | None = None
    calculator: bool = False  # write the results of the arithmetic answers state (`fcot.models.calculator`)


def evaluate_model(student: Completions, task: str | Task, template: str, options: EvalOptions = EvalOptions(),
                   progress: Callable[[int], None] | None = None,
                   on_start: Callable[[], object] | None = None) -> tuple[CompletionDataset, Evaluation]:
    """Generate the student's answers to a task split with a template, save them, and score them.

    `student` comes from `fcot.models.open_student` (torch or an export, each at its own precision).
    `on_start()` is called once the inputs are checked, before generating; `progress(n)` after each batch.
    """
    o, task = options, as_task(task)
    check_sampling(o.samples, o.temperature)
    indices = list(o.questions) if o.questions is not None else task.load_split(o.split_name, o.data_dir).get(o.split)
    if indices is None:
        raise ConfigError(f"task {task.key}: split {o.split_name!r} has no part {o.split!r}; use train or test")
    indices = indices[:o.limit] if o.limit else indices
    questions = task.load_dataset(o.data_dir).select(indices)
    prompts = {s["sample_index"]: format_input(template, s, student.model_type, task, data_dir=o.data_dir)
               for s in questions}  # also rejects a template this model type cannot use
    base = o.base_model or (Path(student.name).name if Path(student.name).exists() else student.name)
    path = answers_path(o.out_root, base, template, task.key, o.finetune_key, o.samples, o.temperature, o.calculator)
    cd = _load_or_new(path, task.key, base, template, o.finetune_key)
    todo = [(s, j) for j in range(o.samples) for s in questions if not _done(cd, s["sample_index"], j)]
    todo.sort(key=lambda pair: len(prompts[pair[0]["sample_index"]]))  # similar lengths share a chunk, then a batch
    spec = get_template(template)
    limit_tokens = o.max_new_tokens or spec.max_new_tokens
    stop = tuple(spec.stop if o.stop is None else o.stop)
    cd.metadata.update({"split": o.split, "max_new_tokens": limit_tokens, "stop": list(stop),
                        "completion_key": answers_key(template, o.samples, o.temperature, o.calculator),
                        "samples": o.samples, "temperature": o.temperature, "calculator": o.calculator})
    if todo:
        total = len(questions) * o.samples
        log.info("%s: %d of %d completions to generate, %d already in %s", task.key, len(todo), total,
                 total - len(todo), path)
    if on_start is not None:  # the inputs are checked: the work starts
        on_start()
    stats = GenerationStats(prompts=0, new_tokens=0, seconds=0.0)
    chunk = max(o.batch_size * 4, 1)  # save after every chunk so an interrupted run resumes
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        rows, part_stats = _complete(student, task, template, part, prompts, progress, o.batch_size,
                                     GenParams(max_tokens=limit_tokens, stop=stop, calculator=o.calculator),
                                     o.temperature)
        for row in rows:
            cd.add(row)
        stats = GenerationStats(stats.prompts + part_stats.prompts, stats.new_tokens + part_stats.new_tokens,
                                stats.seconds + part_stats.seconds)
        cd.metadata[GENERATION_KEY] = replace(stats, precision=student.precision, batch_size=o.batch_size).to_json()
        cd.save(path)
    if not todo and not path.exists():
        cd.save(path)
    evaluation = evaluate_completions(cd, sample_indices=indices, completion_indices=[0], task=task)
    return cd, evaluation


def generation_of(cd: CompletionDataset) -> GenerationStats | None:
    """How a completion file's answers were generated (None for a file from elsewhere)."""
    return GenerationStats.from_json(cd.metadata.get(GENERATION_KEY))


def _generate(student: Completions, prompts: list[str], params: GenParams, batch_size: int,
              progress: Callable[[int], None] | None) -> tuple[list, GenerationStats]:
    """The student's completions of prompts, in order, and how fast they came."""
    started = time.perf_counter()
    outs = student.complete(prompts, params, progress, batch_size)
    return outs, GenerationStats(len(outs), sum(o.new_tokens for o in outs), time.perf_counter() - started)


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
    student: Completions, task: Task, template: str, todo: list[tuple[dict, int]], prompts: dict[int, str],
    progress: Callable[[int], None] | None, batch_size: int, params: GenParams, temperature: float = 0.0,
) -> tuple[list[dict], GenerationStats]:
    """Completion records for (sample, completion index) pairs, given each sample's prompt (two generation steps for a
    two-step template, whose second, the answer, is greedy); the rationale is sampled at `temperature` above 0."""
    rows = [{"sample_index": s["sample_index"], "completion_index": j, "question": s["question"],
             "answer": s["answer"]} for s, j in todo]
    sampled = replace(params, temperature=temperature)  # where the rationale is written
    stats = GenerationStats(prompts=0, new_tokens=0, seconds=0.0)
    two_step = get_template(template).two_step
    if two_step:
        for row in rows:
            row["reasoning_prompt"] = prompts[row["sample_index"]]
        outs, stats = _generate(student, [r["reasoning_prompt"] for r in rows], sampled, batch_size, None)
        for row, out in zip(rows, outs):
            row.update(reasoning_completion=out.text, reasoning_finish_reason=out.finish_reason)
        params = replace(params, max_tokens=ZS_COT_ANSWER_TOKENS)
    for row in rows:
        row["prompt"] = (format_input(template, row, student.model_type, task, step=2) if two_step
                         else prompts[row["sample_index"]])
    final = params if two_step else sampled  # the second step only states the answer: greedy
    outs, answer_stats = _generate(student, [r["prompt"] for r in rows], final, batch_size, progress)
    for row, out in zip(rows, outs):
        row.update(completion=out.text, finish_reason=out.finish_reason)
    total = GenerationStats(len(rows), stats.new_tokens + answer_stats.new_tokens, stats.seconds + answer_stats.seconds)
    return rows, total
