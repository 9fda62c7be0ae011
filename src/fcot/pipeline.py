"""The Fine-tune-CoT recipe: teacher → curate → train → evaluate → report, for each task of a `RunConfig`.

Every stage writes its files under `<out>/<name>/` and is skipped or resumed when they already exist, so
re-running a config after an interruption continues where it stopped.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from pydantic import ValidationError

from fcot.config import CONFIG_FILE, RunConfig
from fcot.errors import ConfigError, NoTrainingSamples
from fcot.formats import check_writable, read_yaml, write_atomic
from fcot.report import Result, render_report, save_results
from fcot.report.analyses import CALCULATOR_METHOD, TEACHER_METHOD
from fcot.report.results import RESULTS_FILE
from fcot.templates import TEMPLATES

if TYPE_CHECKING:
    from fcot.curate import CurateResult
    from fcot.formats import CompletionDataset, Dataset
    from fcot.models import Completions
    from fcot.student import StudentConfig
    from fcot.tasks import Task
    from fcot.teacher import TeachConfig

log = logging.getLogger(__name__)

SELF_TRAIN_METHOD = "Fine-tune-CoT + self-training"


@dataclass
class Experiment:
    """The results of a run and where its files are."""

    config: RunConfig
    results: list[Result] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


Notify = Callable[[str], None]


def run_experiment(config: RunConfig, notify: Notify = log.info,
                   train_progress: Callable[[dict], None] | None = None, point: dict | None = None) -> Experiment:
    """Run (or resume) every stage of the experiment for each task; return the measured results.

    `notify` gets one line per stage; `train_progress` gets the trainer's per-step events; `point` (a sweep
    point's axis values, `fcot.sweep`) is recorded in every result.
    """
    from fcot.precision import resolve_precision

    root = config.root
    tasks = check_experiment(config)  # every task, the teacher, student and output folder, before anything is written
    write_atomic(root / CONFIG_FILE, config.to_yaml())
    notify(str(resolve_precision(config.student.precision)))
    experiment = Experiment(config)
    for task in tasks:
        for result in _run_task(config, task, root, notify, train_progress):
            result = result.model_copy(update={"point": point or {}})
            experiment.results.append(result)
            save_results(root / RESULTS_FILE, [result])
    experiment.files = {"results": root / RESULTS_FILE, **render_report(experiment.results, root / "report")}
    return experiment


def check_experiment(config: RunConfig) -> list[Task]:
    """Check everything that can fail before any work (tasks, data, teacher, student, output folder); the tasks."""
    from fcot.resources import data_dir
    from fcot.models.loading import model_type_of
    from fcot.tasks import resolve_task
    from fcot.templates import check_trainable, rationale_template

    if config.data_dir is not None:
        data_dir(config.data_dir)
    tasks = [resolve_task(spec, config.answer_type) for spec in config.tasks]
    model_type = model_type_of(config.student.model)
    for task in tasks:
        try:
            check_trainable(config.curate.template or rationale_template(task), model_type)
        except ConfigError as exc:
            raise ConfigError(f"curate.template with student {config.student.model}: {exc}") from exc
        task.load_split(config.split_name, config.data_dir)  # an unknown split name fails here
    check_writable(config.root, fix="set another out (out=...)")
    _check_previous_config(config, config.root)
    return tasks


def _check_previous_config(config: RunConfig, root: Path) -> None:
    """A folder with results of another config is refused; one that holds only its config file is reused."""
    path = root / CONFIG_FILE
    if not path.exists() or all(p.name == CONFIG_FILE for p in root.iterdir()):
        return
    previous = read_yaml(path) or {}
    if isinstance(previous.get("curate"), dict):  # runs from before calculator annotation had none
        previous["curate"].setdefault("calculator", False)
    with contextlib.suppress(ValidationError):  # settings added since then compare as their defaults
        previous = RunConfig.model_validate(previous).model_dump(mode="json")
    current = config.model_dump(mode="json")
    changed = [k for k in ("tasks", "split_name", "teacher", "curate", "student") if previous.get(k) != current.get(k)]
    if changed:
        raise ConfigError(f"{path}: this experiment was run with other {', '.join(changed)} settings; "
                          f"set another name (name=...) or delete {root} to start over")


def _run_task(config: RunConfig, task: Task, root: Path, notify: Notify,
              train_progress: Callable[[dict], None] | None) -> Iterator[Result]:
    """Each stage of one task, yielding results as soon as they are measured."""
    from fcot.models import open_student

    split = task.load_split(config.split_name, config.data_dir)
    test = config.eval.questions(split)

    notify(f"[{task.key}] teacher: {config.teacher.teacher}")
    completions = _teach(config, task, root)
    base = open_student(config.student.model, precision=config.student.precision)
    model_type, count = base.model_type, _token_counter(base.tokenizer)
    yield _teacher_result(config, task, completions, test, count)

    for template in config.baselines:
        if TEMPLATES[template].trainable:  # vanilla fine-tuning: trained below
            continue
        notify(f"[{task.key}] untrained student, {TEMPLATES[template].method} on {len(test)} test questions")
        yield _evaluate(config, task, base, template, root, None, notify, test)
    del base

    curated = _curate(config, task, completions, model_type)
    stats = curated.stats
    steps = f", {stats.annotated} results written as steps for the calculator" if curated.calculator else ""
    notify(f"[{task.key}] curated {stats.kept} {stats.template} samples from the teacher's {stats.correct}/"
           f"{stats.completions} correct completions of {stats.split_samples} train questions{steps}")
    asked = completions.select(curated.questions, range(config.curate.samples) if config.curate.samples else None)
    teacher_tokens = sum(count(c.get("reasoning_prompt") or "") + count(c.get("reasoning_completion") or "")
                         for c in asked)
    yield _train_and_evaluate(config, task, curated, config.student, root, notify, train_progress, teacher_tokens,
                              test)
    if "ft_token" in config.baselines:
        vanilla = config.student.model_copy(update={"epochs": config.vanilla_epochs or config.student.epochs})
        dataset = _curate(config, task, task.load_dataset(config.data_dir), model_type, "ft_token")
        yield _train_and_evaluate(config, task, dataset, vanilla, root, notify, train_progress, None, test)
    if config.self_train:
        result = _self_train(config, task, curated, root, notify, train_progress, teacher_tokens, test)
        if result is not None:
            yield result


def _teach_config(config: RunConfig, task: Task, root: Path) -> TeachConfig:
    """The `fcot teach` options of the config's teacher section."""
    from fcot.teacher.config import TeachConfig, TeacherOptions

    shared = config.teacher.model_dump(include=set(TeacherOptions.model_fields))
    return TeachConfig(task=task, **shared, split="all", out=root, data_dir=config.data_dir)


def _teach(config: RunConfig, task: Task, root: Path) -> CompletionDataset:
    """Teacher completions for the task's train and test questions (cached, resumable)."""
    from fcot.teacher.teach import teach

    return teach(_teach_config(config, task, root))


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


def _teacher_result(config: RunConfig, task: Task, completions: CompletionDataset, test: list[int], count) -> Result:
    from fcot.evaluate import evaluate_completions

    evaluation = evaluate_completions(completions, sample_indices=test, completion_indices=[0], task=task)
    rows = completions.select(test, [0])
    tokens = sum(count(r.get("prompt") or "") + count(r.get("completion") or "") + count(r.get("reasoning_prompt") or "")
                 + count(r.get("reasoning_completion") or "") for r in rows)
    return Result(task=task.key, method=TEACHER_METHOD, role="teacher", model=completions.base_model or "teacher",
                  template="zs_cot", n=evaluation.n, accuracy=100 * evaluation.accuracy,
                  teacher=config.teacher.teacher, samples=config.teacher.samples,
                  teacher_tokens=tokens, usd=tokens / 1000 * config.teacher.usd_per_1k_tokens,
                  note=f"teacher tokens counted with the student's tokenizer, at ${config.teacher.usd_per_1k_tokens}/1k")


def _curate(config: RunConfig, task: Task, source: CompletionDataset | Dataset, model_type: str,
            template: str | None = None) -> CurateResult:
    """Training samples of the task's train questions, as the curate section says: the teacher's correct rationales,
    the gold answers of the task's Dataset (`ft_token`), or a student's own correct samples (self-training)."""
    from fcot.curate import curate
    from fcot.formats import Dataset

    c = config.curate
    result = curate(source, task, template or c.template, model_type, split="train", split_name=config.split_name,
                    data_dir=config.data_dir, max_rationale_tokens=c.max_rationale_tokens, dedupe=c.dedupe,
                    max_questions=c.max_questions, samples=c.samples, seed=config.student.seed,
                    calculator=c.calculator_for(task) and not isinstance(source, Dataset))
    if c.max_samples:
        result.samples = result.samples[: c.max_samples]
        result.stats.kept = len(result.samples)
    return result


def _write(root: Path, result: CurateResult) -> Path:
    """The curated samples as the paper's finetune_data file under root."""
    from fcot.curate import curated_path, write_curated

    return write_curated(result, curated_path(root, result))


def _self_train(config: RunConfig, task: Task, teacher_samples: CurateResult, root: Path, notify: Notify,
                train_progress: Callable[[dict], None] | None, teacher_tokens: int, test: list[int]) -> Result | None:
    """The Fine-tune-CoT student samples rationales for the train questions; a second student trains on its correct
    ones and the teacher's (None when none is correct). Sampling time counts as training time: it is what the
    extra data cost."""
    from fcot.curate import combine, curate
    from fcot.evaluate.generate import EvalOptions, evaluate_model, generation_of
    from fcot.models import open_student

    s, template = config.self_train, teacher_samples.stats.template
    run_dir = root / "runs" / teacher_samples.finetune_key
    notify(f"[{task.key}] self-training: the student samples {s.samples} rationales per train question "
           f"(temperature {s.temperature:g})")
    sampling = EvalOptions(split="train", split_name=config.split_name, samples=s.samples, temperature=s.temperature,
                           batch_size=config.eval.batch_size, max_new_tokens=config.eval.max_new_tokens, out_root=root,
                           finetune_key=run_dir.name, base_model=config.student.model, data_dir=config.data_dir,
                           calculator=config.curate.calculator_for(task))
    own, _ = evaluate_model(open_student(run_dir, precision=config.student.precision), task, template, sampling)
    sampled = generation_of(own)
    sampling_s = sampled.seconds if sampled else 0.0
    try:
        mine = curate(own, task, template, teacher_samples.stats.model_type, split="train",
                      split_name=config.split_name, data_dir=config.data_dir,
                      max_rationale_tokens=config.curate.max_rationale_tokens, dedupe=config.curate.dedupe,
                      max_questions=config.curate.max_questions, seed=config.student.seed,
                      calculator=config.curate.calculator_for(task))
    except NoTrainingSamples as exc:
        notify(f"[{task.key}] self-training skipped: {exc}")
        return None
    both = combine([teacher_samples, mine], dedupe=config.curate.dedupe)
    notify(f"[{task.key}] self-training: {mine.stats.kept} of the student's {mine.stats.completions} rationales are "
           f"correct; {both.stats.kept} samples with the teacher's")
    result = _train_and_evaluate(config, task, both, config.student, root, notify, train_progress, teacher_tokens,
                                 test)
    note = (f"D={s.samples} at T={s.temperature:g}: {mine.stats.kept} own correct rationales + "
            f"{teacher_samples.stats.kept} teacher's; train time includes {sampling_s:.0f} s of sampling")
    return result.model_copy(update={"method": SELF_TRAIN_METHOD, "note": note,
                                     "train_wall_s": (result.train_wall_s or 0) + sampling_s})


def _train_and_evaluate(config: RunConfig, task: Task, curated: CurateResult, student: StudentConfig, root: Path,
                        notify: Notify, train_progress: Callable[[dict], None] | None,
                        teacher_tokens: int | None, test: list[int]) -> Result:
    """Train a student on curated samples (written as the paper's finetune_data file) and score it; the result
    records what it trained on (teacher, D, questions, samples), its seed and budget."""
    from fcot.models import open_student
    from fcot.student import train

    template, finetune_key, train_file = curated.stats.template, curated.finetune_key, _write(root, curated)
    run_dir = root / "runs" / finetune_key
    length = f"{student.max_steps} steps" if student.max_steps else f"{student.epochs:g} epochs"
    notify(f"[{task.key}] train {TEMPLATES[template].method}: {student.model} ({'LoRA' if student.lora else 'full'}, "
           f"{length}) -> {run_dir}")
    trained = train(student, train_file, run_dir, progress=train_progress)
    notify(f"[{task.key}] trained {trained.global_step} steps in {trained.wall_time_s:.0f} s, "
           f"loss {trained.losses[0]['loss']:.3f} -> {trained.losses[-1]['loss']:.3f}; kept {trained.chosen}")
    trained_student = open_student(run_dir, precision=config.student.precision)
    result = _evaluate(config, task, trained_student, template, root, finetune_key, notify, test,
                       calculator=curated.calculator)
    rationales = teacher_tokens is not None
    t = config.teacher
    return result.model_copy(update={
        "train_wall_s": trained.wall_time_s, "train_samples": trained.train_samples,
        "train_questions": curated.stats.split_samples, "seed": student.seed,
        "epochs": student.epochs if student.max_steps is None else None, "teacher_tokens": teacher_tokens,
        "teacher": t.teacher if rationales else None,
        "samples": (config.curate.samples or t.samples) if rationales else None,
        "teacher_usd": teacher_tokens / 1000 * t.usd_per_1k_tokens if rationales else None})


def _evaluate(config: RunConfig, task: Task, student: Completions, template: str, root: Path,
              finetune_key: str | None, notify: Notify, test: list[int], calculator: bool = False) -> Result:
    """The student's answers to the test questions (with calculator decoding when it was trained for it), scored, as
    a result row."""
    from fcot.evaluate.generate import EvalOptions, evaluate_model, generation_of

    e = config.eval
    rationale = TEMPLATES[template].writes_rationale  # answer-only templates keep their short default limit
    started = time.monotonic()
    options = EvalOptions(split=e.split, split_name=config.split_name, questions=test, batch_size=e.batch_size,
                          max_new_tokens=e.max_new_tokens if rationale else None, out_root=root,
                          finetune_key=finetune_key, base_model=config.student.model, data_dir=config.data_dir,
                          calculator=calculator)
    cd, evaluation = evaluate_model(student, task, template, options)
    generation = generation_of(cd)
    wall = (generation and generation.seconds) or (time.monotonic() - started)
    method = TEMPLATES[template].method + CALCULATOR_METHOD * calculator
    notify(f"[{task.key}] {method}: {100 * evaluation.accuracy:.2f}% of {evaluation.n}")
    return Result(task=task.key, method=method, model=config.student.model, template=template,
                  n=evaluation.n, accuracy=100 * evaluation.accuracy, params=student.parameters,
                  generated_tokens=generation and generation.new_tokens, wall_s=wall,
                  precision=generation and generation.precision,
                  usd=wall / 3600 * e.usd_per_cpu_hour)
