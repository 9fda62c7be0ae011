"""Sweeps: a run config's `sweep:` names axes (config fields) with lists of values, one sub-run per combination.

    sweep:
      curate.max_questions: [8, 32, 128, null]    # the paper's dataset-size analysis
      student.seed: [0, 1]

Each point runs as its own resumable experiment in `<out>/<name>/<axis>-<value>__.../`; teacher calls are
shared through the teacher's cache, and a baseline whose answers no axis changes (zero-shot prompting across
dataset sizes, vanilla fine-tuning across values of D or teachers) runs at the first point only. All points'
rows, each stamped with its values, are gathered in `<out>/<name>/results.json` and its report.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from fcot.config import CONFIG_FILE, RunConfig, set_path
from fcot.errors import ConfigError, field_problems
from fcot.formats import safe_name, write_atomic
from fcot.pipeline import Experiment, Notify, check_experiment, run_experiment
from fcot.report import Result, render_report, save_results
from fcot.report.results import RESULTS_FILE
from fcot.templates import TEMPLATES

AXIS_ROOTS = ("tasks", "split_name", "teacher", "curate", "student", "vanilla_epochs")  # what a sweep may vary
PROMPTING_AXES = ("tasks", "split_name", "student.model")  # all an untrained student's answers depend on
TOKENS_PER_WORD = 1.3  # a word or punctuation mark is about this many tokens (for price estimates)
VANILLA_AXES = ("tasks", "split_name", "vanilla_epochs", "curate.max_questions", "curate.max_samples")  # + student.*


@dataclass(frozen=True)
class Point:
    """One combination of axis values, and the experiment config it makes."""

    values: dict[str, Any]
    config: RunConfig


def points(config: RunConfig) -> list[Point]:
    """Every combination of the sweep's values, in order (the last axis changing fastest); ConfigError naming
    each axis or value that is not a config field or fails its checks."""
    axes = config.sweep
    bad = [axis for axis in axes if axis.split(".")[0] not in AXIS_ROOTS]
    if bad:
        raise ConfigError(f"sweep: {', '.join(bad)} cannot be swept; sweep fields of {', '.join(AXIS_ROOTS)}")
    base = config.model_dump(mode="json", exclude={"sweep"})
    found, problems, seen = [], [], {}
    for combo in itertools.product(*axes.values()):
        values = dict(zip(axes, combo))
        raw = {**base, "name": f"{config.name}/{point_name(values)}"}
        for axis, value in values.items():
            set_path(raw, axis, [value] if axis == "tasks" and isinstance(value, str) else value)
        try:
            point = RunConfig.model_validate(raw)
        except ValidationError as exc:
            where = ", ".join(f"{axis}={value}" for axis, value in values.items())
            problems += [f"point {where}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            continue
        found.append(Point(values, point.model_copy(update={"baselines": _first_baselines(config, values, seen)})))
    if problems:
        raise ConfigError(f"sweep: {'; '.join(problems)}")
    return found


def point_name(values: dict[str, Any]) -> str:
    """A point's folder name: `max_questions-8__seed-0` (a path value by its last part, null as `all`)."""
    def show(value: Any) -> str:
        if value is None:
            return "all"
        if isinstance(value, list):
            return "+".join(map(show, value))
        text = str(value)
        return safe_name(Path(text).name if "/" in text and ":" not in text else text)

    return "__".join(f"{axis.split('.')[-1]}-{show(value)}" for axis, value in values.items())


def _first_baselines(config: RunConfig, values: dict[str, Any], seen: dict) -> list[str]:
    """The baselines this point runs: those whose answers no earlier point already gave."""
    kept = []
    for baseline in config.baselines:
        if TEMPLATES[baseline].trainable:
            axes = [a for a in values if a in VANILLA_AXES or a.startswith("student.")]
        else:
            axes = [a for a in values if a in PROMPTING_AXES]
        key = (baseline, repr([values[a] for a in axes]))
        if key not in seen:
            seen[key] = True
            kept.append(baseline)
    return kept


def run_sweep(config: RunConfig, notify: Notify, train_progress: Callable[[dict], None] | None = None
              ) -> Experiment:
    """Run (or resume) every point; all results, stamped with their point's values, go to the sweep's folder."""
    found = points(config)
    for point in found:  # every point's tasks, teacher, student and folder, before any work
        check_experiment(point.config)
    write_atomic(config.root / CONFIG_FILE, config.to_yaml())
    results: list[Result] = []
    for i, point in enumerate(found, 1):
        notify(f"sweep point {i}: {point_name(point.values)}")
        experiment = run_experiment(point.config, notify, train_progress, point=point.values)
        results += experiment.results
        save_results(config.root / RESULTS_FILE, experiment.results)
    files = {"results": config.root / RESULTS_FILE, **render_report(results, config.root / "report")}
    return Experiment(config, results, files)


@dataclass(frozen=True)
class Planned:
    """What one point will do for one task, counted before anything runs."""

    point: str
    task: str
    teacher_requests: int  # 0 where the teacher is recorded; only the rationales no earlier point asked for
    teacher_usd: float | None  # at most this much (rationales of max_tokens); None where the price is unknown
    train_questions: int
    students: int  # students trained
    epochs: float | None
    test_answers: int  # answers generated on the test split, all students and prompting baselines together


def plan(config: RunConfig) -> list[Planned]:
    """`fcot run --dry-run`: each point's teacher requests and their price, trainings and test answers."""
    from fcot.curate import count_words
    from fcot.tasks import resolve_task
    from fcot.teacher.config import parse_teacher
    from fcot.teacher.pricing import load_prices, price_for
    from fcot.templates import ZS_COT_ANSWER_TOKENS

    planned, asked, prices = [], {}, load_prices()
    for point in points(config) if config.sweep else [Point({}, config)]:
        c, t = point.config, point.config.teacher
        backend, model = parse_teacher(t.teacher)
        for spec in c.tasks:
            task = resolve_task(spec, c.answer_type)
            split = task.load_split(c.split_name, c.data_dir)
            questions = task.load_dataset(c.data_dir).select(split["train"] + split["test"])
            key = (task.key, t.teacher, t.base_url, t.temperature)  # the cache keeps completion i of D for any D
            new = 0 if backend == "recorded" else max(0, t.samples - asked.get(key, 0))
            asked[key] = max(asked.get(key, 0), t.samples)
            n, requests = len(questions) * new, 2 * len(questions) * new  # two steps per rationale
            words = sum(count_words(q["question"]) for q in questions) * new
            price = price_for(model, prices)  # each question read twice, its rationale again in step 2
            usd = price.cost(round(2 * TOKENS_PER_WORD * words) + n * t.max_tokens,
                             n * (t.max_tokens + ZS_COT_ANSWER_TOKENS)) if price.known else None
            test = c.eval.questions(split)
            students = 1 + ("ft_token" in c.baselines) + bool(c.self_train)
            prompting = sum(b != "ft_token" for b in c.baselines)
            planned.append(Planned(point_name(point.values) or c.name, task.key, requests,
                                   usd if requests else 0.0, min(c.curate.max_questions or 10**9, len(split["train"])),
                                   students, None if c.student.max_steps else c.student.epochs,
                                   len(test) * (students + prompting)))
    return planned
