"""Turn teacher completions (or gold answers) into training samples: train split only, correct answers only.

A completion is kept when the paper's evaluator finds the gold answer in its step-2 completion; every
correct completion of a sample becomes one training sample (diverse reasoning is used as is).
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from fcot.curate.annotate import annotate
from fcot.errors import ConfigError, DataError, NoTrainingSamples
from fcot.formats import CompletionDataset, Dataset, fewer_samples_key, finetune_key
from fcot.tasks import DEFAULT_SPLIT, Task, as_task
from fcot.templates import (STOP_PHRASE, TEMPLATES, check_trainable, format_input, format_label,
                             rationale_template)

log = logging.getLogger(__name__)

_WORDS = re.compile(r"\w+|[^\w\s]")


def count_words(text: str) -> int:
    """Words and punctuation marks in text: a tokenizer-free stand-in for a model's token count."""
    return len(_WORDS.findall(text))


@dataclass
class CurateStats:
    """What curation kept and dropped for one task."""

    dataset_key: str
    template: str
    model_type: str
    split_samples: int = 0  # samples in the chosen split part
    source_samples: int = 0  # of those, samples with at least one completion (or gold answer)
    completions: int = 0  # completions considered (all completions of those samples)
    correct: int = 0  # completions whose answer is correct
    too_long: int = 0  # correct ones dropped by --max-rationale-tokens
    duplicates: int = 0  # correct ones dropped by --dedupe
    no_rationale: int = 0  # correct ones whose text states no rationale before its answer (a student's sample)
    annotated: int = 0  # results stated in words written as explicit steps for a calculator (`calculator=True`)
    kept: int = 0  # training samples written
    kept_samples: int = 0  # distinct questions among them

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class CurateResult:
    """Training samples (`sample_index`, `completion_index`, `input`, `label`, `prompt`, `completion`) and stats."""

    samples: list[dict]
    stats: CurateStats
    config: dict = field(default_factory=dict)  # how they were made, written to the sidecar
    questions: list[int] = field(default_factory=list)  # the questions curated from (all of a subset's answers)

    @property
    def finetune_key(self) -> str:
        """The paper's name for these samples (`zs_cot_<task>`, ...), as `fcot.formats.finetune_key` makes it."""
        return finetune_key(self.stats.dataset_key, self.stats.template, self.config.get("completion_key"),
                            self.config.get("max_questions"), self.calculator)

    @property
    def calculator(self) -> bool:
        """Whether the rationales were annotated for a calculator (`fcot.curate.annotate`)."""
        return bool(self.config.get("calculator"))


def split_indices(task: Task, split: str = "train", split_name: str = DEFAULT_SPLIT, data_dir: str | Path | None = None
                  ) -> list[int]:
    """Sample indices of one part of a task's split; the test part is refused, so it never leaks into training."""
    if split == "test":
        raise ConfigError("--split test would train on test samples; curate the train split (--split train)")
    parts = task.load_split(split_name, data_dir)
    if split not in parts:
        raise ConfigError(f"split {task.key}__{split_name} has no part {split!r}; available: {', '.join(parts)}")
    return parts[split]


def question_of(sample: dict) -> object:
    """What identifies a sample's question: its `sample_index`, else its input text."""
    return sample.get("sample_index", sample["input"])


def questions_of(samples: list[dict]) -> list:
    """The distinct questions of samples, in order of first appearance."""
    return list(dict.fromkeys(map(question_of, samples)))


def question_order(questions: list, seed: int) -> list:
    """The questions in a seeded random order: validation holds out its end, `--max-questions N` takes its first N,
    so the training questions of a dataset-size curve are nested and never among the validation questions."""
    order = list(questions)
    random.Random(seed).shuffle(order)
    return order


def hold_out(questions: list, fraction: float, seed: int, max_questions: int | None = None) -> list:
    """The questions to validate on: the end of `question_order`, `fraction` of them (at least one, at most
    `max_questions`), leaving at least one to train on; in the order given."""
    if fraction <= 0 or len(questions) < 2:
        return []
    count = min(max(1, round(fraction * len(questions))), len(questions) - 1)
    if max_questions is not None:
        count = min(count, max_questions)
    held = set(question_order(questions, seed)[-count:])
    return [q for q in questions if q in held]


def split_validation(samples: list[dict], held: list) -> tuple[list[dict], list[dict]]:
    """(train, validation): the samples of the held-out questions apart, so no question lands on both sides."""
    held_set = set(held)
    return ([s for s in samples if question_of(s) not in held_set], [s for s in samples if question_of(s) in held_set])


def step2_correct(task: Task, prediction_template: str = "zs_cot") -> Callable[[dict], bool]:
    """The paper's filter: the task's answer extraction finds the gold answer in the step-2 completion."""
    prefix = TEMPLATES[prediction_template].answer_prefix

    def correct(c: dict) -> bool:
        if not isinstance(c.get("completion"), str) or c.get("answer") is None:
            raise DataError(f"sample {c.get('sample_index', '?')}: no completion text or gold answer to check; "
                            "regenerate the completion file")
        return task.answers_correctly(c["completion"], str(c["answer"]), prefix)

    return correct


def _row(template: str, model_type: str, task: Task, source: dict, stop_phrase: str | None) -> dict:
    text_in = format_input(template, source, model_type=model_type, task=task)
    label = format_label(template, source, model_type=model_type, stop_phrase=stop_phrase)
    return {
        "sample_index": int(source["sample_index"]),
        "completion_index": int(source.get("completion_index", 0)),
        "input": text_in,
        "label": label,
        "prompt": text_in,
        "completion": label,
    }


def curate(
    source: CompletionDataset | Dataset,
    task: Task | str | None = None,
    template: str | None = None,
    model_type: str = "decoder",
    *,
    split: str = "train",
    split_name: str = DEFAULT_SPLIT,
    sample_indices: list[int] | None = None,
    data_dir: str | Path | None = None,
    max_rationale_tokens: int | None = None,
    count_tokens: Callable[[str], int] = count_words,
    dedupe: bool = False,
    stop_phrase: str | None = STOP_PHRASE,
    is_correct: Callable[[dict], bool] | None = None,
    max_questions: int | None = None,
    samples: int | None = None,
    seed: int = 0,
    calculator: bool = False,
) -> CurateResult:
    """Training samples from a task's train split: the teacher's correct rationales (a CompletionDataset), or
    the gold answers of a Dataset for vanilla fine-tuning (`ft_token`, the default template for a Dataset;
    rationales default to `fcot.templates.rationale_template` of the task).

    `max_questions` N keeps the first N questions of `question_order(split, seed)`, with all their completions:
    the 8 questions are among the 32 (a dataset-size curve compares like with like) and none is among those
    validation holds out (unless N reaches them). `samples` d keeps the first d completions of each question, so
    one D=64 teacher file serves every smaller D. `calculator` writes each result a rationale states in words as an
    explicit step (`fcot.curate.annotate`) for a student that decodes with a calculator."""
    from_dataset = isinstance(source, Dataset)
    task = as_task(task or source.dataset_key)
    template = template or ("ft_token" if from_dataset else rationale_template(task))
    check_trainable(template, model_type)
    if from_dataset == TEMPLATES[template].writes_rationale:
        raise ConfigError(f"template {template} needs teacher rationales; curate a completions file, not a Dataset"
                          if from_dataset else f"template {template} trains on gold answers, not teacher completions; "
                          f"curate the task's Dataset instead (e.g. `fcot curate {source.dataset_key} --template "
                          "ft_token`)")
    if calculator and from_dataset:
        raise ConfigError("--calculator annotates teacher rationales; gold answers (ft_token) have none to annotate")
    if task.key != source.dataset_key:
        raise DataError(f"{source.dataset_key!r} data, not task {task.key!r}; pass the matching task")
    pool = sample_indices if sample_indices is not None else split_indices(task, split, split_name, data_dir)
    indices = pool
    if max_questions is not None:
        chosen = set(question_order(pool, seed)[:max_questions])
        indices = [i for i in pool if i in chosen]
    config = {"split": split, "split_name": split_name, "questions": list(pool), "max_questions": max_questions,
              "samples": samples, "question_seed": seed, "max_rationale_tokens": max_rationale_tokens, "dedupe": dedupe,
              "calculator": calculator}
    if from_dataset:
        rows = [_row(template, model_type, task, s, stop_phrase) for s in source.select(indices)]
        if not rows:
            raise DataError(f"dataset {task.key}: split part {split!r} is empty; nothing to train on")
        n = len(rows)
        stats = CurateStats(task.key, template, model_type, split_samples=len(indices), source_samples=n,
                            completions=n, correct=n, kept=n, kept_samples=n)
        config.update(source="dataset", teacher=None)
    else:
        is_correct = is_correct or step2_correct(task, source.prediction_template)
        rows, stats = _correct_rationales(source, task, template, model_type, indices, stop_phrase, is_correct,
                                          max_rationale_tokens, count_tokens, dedupe, samples, calculator)
        key = source.metadata.get("completion_key") or source.prediction_template
        config.update(source="completions", teacher=source.base_model,
                      completion_key=fewer_samples_key(key, samples) if samples else key)
    return CurateResult(rows, stats, _config(template, model_type, stop_phrase, task, config), list(indices))


def _correct_rationales(completions: CompletionDataset, task: Task, template: str, model_type: str, indices: list[int],
                        stop_phrase: str | None, is_correct: Callable[[dict], bool], max_rationale_tokens: int | None,
                        count_tokens: Callable[[str], int], dedupe: bool, per_question: int | None = None,
                        calculator: bool = False) -> tuple[list[dict], CurateStats]:
    """One sample per correct completion of the chosen questions (the first `per_question` of each), less too long
    and repeated rationales; annotated for a calculator when asked."""
    stats = CurateStats(task.key, template, model_type, split_samples=len(indices))
    samples: list[dict] = []
    seen: set[tuple[int, str]] = set()
    for index in indices:
        rows = [c for c in completions.data.get(index, [])
                if per_question is None or c.get("completion_index", 0) < per_question]
        stats.source_samples += bool(rows)
        for c in rows:
            stats.completions += 1
            if not is_correct(c):
                continue
            stats.correct += 1
            rationale = rationale_of(c, completions.prediction_template)
            if not rationale and reasons(completions.prediction_template):
                stats.no_rationale += 1
                continue
            if rationale is None:
                raise DataError(f"completions for {task.key}: sample {index} has no rationale; Fine-tune-CoT needs "
                                "completions that reason (zs_cot, fs_cot or a Fine-tune-CoT student's)")
            if max_rationale_tokens is not None and count_tokens(rationale) > max_rationale_tokens:
                stats.too_long += 1
                continue
            key = (index, " ".join(rationale.split()))
            if dedupe and key in seen:
                stats.duplicates += 1
                continue
            seen.add(key)
            if calculator:
                rationale, annotated = annotate(str(c.get("question") or ""), rationale)
                stats.annotated += annotated
            samples.append(_row(template, model_type, task, {**c, "reasoning_completion": rationale}, stop_phrase))
    if not samples:
        raise NoTrainingSamples(f"completions for {task.key}: no correct completion among {stats.completions} in the "
                                f"split part ({stats.too_long} too long, {stats.duplicates} duplicates); nothing to "
                                "train on")
    stats.kept = len(samples)
    stats.kept_samples = len({s["sample_index"] for s in samples})
    log.info("%s: kept %d of %d completions", task.key, stats.kept, stats.completions)
    return samples, stats


def combine(results: list[CurateResult], dedupe: bool = False) -> CurateResult:
    """One training set from several curations of one task (e.g. the teacher's correct rationales and a student's
    own correct samples, for self-training): samples in order, completion indices made distinct per question, stats
    summed; `dedupe` also drops a label already taken from an earlier source."""
    if len(results) == 1:
        return results[0]
    first = results[0]
    kinds = {(r.stats.dataset_key, r.stats.template, r.stats.model_type) for r in results}
    if len(kinds) > 1:
        shown = "; ".join(" ".join(kind) for kind in sorted(kinds))
        raise ConfigError(f"sources to combine differ in task, template or model type ({shown}); curate them apart")
    samples: list[dict] = []
    taken: dict[int, int] = {}  # question -> completion indices used so far
    seen: set[tuple[int, str]] = set()
    stats = CurateStats(first.stats.dataset_key, first.stats.template, first.stats.model_type,
                        split_samples=first.stats.split_samples)
    for result in results:
        offset = dict(taken)
        for name in ("completions", "correct", "too_long", "duplicates", "annotated"):
            setattr(stats, name, getattr(stats, name) + getattr(result.stats, name))
        stats.source_samples = max(stats.source_samples, result.stats.source_samples)
        for sample in result.samples:
            index, key = sample["sample_index"], (sample["sample_index"], " ".join(sample["label"].split()))
            if dedupe and key in seen:
                stats.duplicates += 1
                continue
            seen.add(key)
            moved = {**sample, "completion_index": sample["completion_index"] + offset.get(index, 0)}
            taken[index] = max(taken.get(index, 0), moved["completion_index"] + 1)
            samples.append(moved)
    stats.kept, stats.kept_samples = len(samples), len({s["sample_index"] for s in samples})
    keys = [r.config.get("completion_key") or r.config.get("source", "") for r in results]
    config = {**first.config, "teacher": [r.config.get("teacher") for r in results], "completion_key": "+".join(keys),
              "sources": [r.config for r in results]}
    return CurateResult(samples, stats, config, first.questions)


def rationale_of(completion: dict, prediction_template: str | None) -> str | None:
    """A completion's rationale: Zero-shot-CoT's step-1 text, else what the prediction opens with before its answer
    (few-shot CoT, or a Fine-tune-CoT student's own samples, e.g. for self-training)."""
    if completion.get("reasoning_completion") is not None:
        return str(completion["reasoning_completion"]).strip()
    template = TEMPLATES.get(prediction_template or "")
    text = completion.get("completion")
    return template.rationale_of(text) if template and isinstance(text, str) else None


def reasons(prediction_template: str | None) -> bool:
    """Whether predictions of this template open with a rationale before their answer (a student's own samples)."""
    template = TEMPLATES.get(prediction_template or "")
    return bool(template and template.writes_rationale and template.answer_prefix)


def _config(template: str, model_type: str, stop_phrase: str | None, task: Task, extra: dict) -> dict:
    return {"dataset_key": task.key, "template": template, "model_type": model_type, "stop_phrase": stop_phrase,
            **extra}
