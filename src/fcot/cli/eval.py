"""`fcot eval`: a student (model folder, run folder, .gguf file, fcot export or alias) answers a task's test split."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import typer

from fcot.cli import app
from fcot.cli.common import (AnswerTypeOption, DataDirOption, OutDirOption, PrecisionOption, SplitNameOption,
                             ThreadsOption, console, err_console, on_interrupt, progress_bar)
from fcot.errors import ConfigError
from fcot.evaluate.generate import EVAL_BATCH_SIZE, generation_of
from fcot.models.loading import DEFAULT_STUDENT
from fcot.templates import ANSWER_TOKENS, RATIONALE_TOKENS, TEMPLATES

def _describe(cd: Any, evaluation: Any, path: Path, seconds: float) -> dict[str, Any]:
    gen = generation_of(cd)
    return {"task": evaluation.dataset_key, "template": evaluation.template, "n": evaluation.n,
            "accuracy": evaluation.accuracy, "tokens_per_s": gen and round(gen.tokens_per_s, 2),
            "precision": gen and gen.precision,
            "wall_s": round(seconds, 2), "file": str(path)}


@app.command("eval")
def eval_(
    model: str = typer.Argument(..., help="Model folder, `fcot train` run, .gguf file, `fcot export` output (run "
                                "by llama.cpp / onnxruntime, no torch) " f"or {DEFAULT_STUDENT}."),
    task: Optional[str] = typer.Option(None, "--task", help="Task key (default: the run's task)."),
    template: Optional[str] = typer.Option(
        None, "--template", help=f"{', '.join(TEMPLATES)} (default: the run's template, else zs)."),
    split: str = typer.Option("test", "--split", help="Part of the task's split to answer: test, train, or "
                              "validation (a training run's held-out train questions)."),
    split_name: str = SplitNameOption,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    samples: int = typer.Option(1, "--samples", "-D", help="Answers per question (sampled at --temperature; e.g. "
                                "a student's own rationales on the train split for self-training)."),
    temperature: float = typer.Option(0.0, "--temperature", help="Sampling temperature (0: greedy)."),
    calculator: Optional[bool] = typer.Option(None, "--calculator/--no-calculator", help="Write the result of each "
                                              "arithmetic expression an answer ends in `=` (`11 - 2 =` -> ` 9`) for "
                                              "the student, which goes on from it; answers go to C_<template>_calc "
                                              "(default: on for a run curated with --calculator)."),
    batch_size: int = typer.Option(EVAL_BATCH_SIZE, "--batch-size", min=1, help="Prompts generated together (a GGUF export "
                                    "decodes up to 32 continuously batched; 1: one at a time)."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1,
                                                 help=f"Generation limit (default: the template's, {RATIONALE_TOKENS} when it writes a "
                                                 f"rationale, else {ANSWER_TOKENS})."),
    precision: Optional[str] = PrecisionOption,
    threads: Optional[int] = ThreadsOption,
    out: Path = OutDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    platform: Optional[str] = typer.Option(None, "--platform", help="Evaluate a hosted fine-tune (MODEL = its "
                                           "finetune key) through the platform's API, e.g. openai."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Send the prompts to this OpenAI-compatible "
                                           "completions endpoint (vLLM, llama.cpp's server, fcot serve), e.g. "
                                           "http://localhost:8000/v1; MODEL (a run folder or export) still gives "
                                           "the task, template and stop phrase."),
    served_model: Optional[str] = typer.Option(None, "--model", help="With --base-url: the model name the "
                                               "endpoint serves (default: MODEL as given)."),
    data_dir: Optional[Path] = DataDirOption,
    answer_type: Optional[str] = AnswerTypeOption,
) -> None:
    """Generate the student's answers to a task's test split, save them (paper layout) and print the accuracy."""
    from fcot.formats import check_sampling, check_writable

    if platform:
        from fcot.cli.platform import eval_on
        from fcot.platform import PlatformEvalConfig

        eval_on(platform, PlatformEvalConfig(finetune_key=model, task=task, template=template, split=split,
                                             limit=limit, max_tokens=max_new_tokens or PlatformEvalConfig.max_tokens,
                                             out=check_writable(out), data_dir=data_dir))
        return
    from fcot.precision import check_precision
    from fcot.models.loading import check_model_name
    from fcot.tasks import resolve_task
    from fcot.templates import check_template

    from fcot.evaluate.generate import answers_path
    from fcot.models import read_run_info
    from fcot.student.run import VALIDATION, validation_questions

    info = read_run_info(model)  # a run folder's fcot.yaml, or what an export stores
    task_key = task or info.task
    if not task_key:
        raise ConfigError("--task is missing; name the task to answer, e.g. --task multiarith")
    task_obj = resolve_task(task_key, answer_type)
    template = template or info.template or "zs"
    check_template(template)
    check_precision(precision or "auto", "--precision")
    check_sampling(samples, temperature)
    questions = None
    if split == VALIDATION:
        questions = validation_questions(Path(model).expanduser())
    elif split not in (parts := task_obj.load_split(split_name, data_dir)):
        raise ConfigError(f"--split {split!r}: task {task_obj.key} has no such part; use "
                          f"{' or '.join(parts)}, or {VALIDATION} for a training run")
    if calculator is None:  # an endpoint serving a calculator-trained run decodes with its own calculator
        calculator = info.calculator and not base_url
    if calculator and base_url:
        raise ConfigError("--calculator works in fcot's own decoding, not an endpoint's; drop --base-url")
    if served_model and not base_url:
        raise ConfigError("--model names the model an endpoint serves; add --base-url, or drop --model")
    if info.export is None and not base_url:
        check_model_name(model)
    base = info.base_model or (model if model == DEFAULT_STUDENT else Path(model).name)
    path = answers_path(out, base, template, task_obj.key, info.finetune_key, samples, temperature, calculator)
    check_writable(path.parent)
    on_interrupt(f"finished batches of answers are saved in {path}")
    started = time.perf_counter()  # the reported wall time includes opening the model
    student = _open(model, info, base_url, served_model, threads, precision)
    _evaluate(student, info, task_obj, template, split, limit, batch_size, max_new_tokens, out, as_json, data_dir,
              base, path, started, sampling=(samples, temperature), questions=questions, split_name=split_name,
              calculator=calculator)


def _open(model: str, info: Any, base_url: str | None, served_model: str | None, threads: int | None,
          precision: str | None) -> Any:
    """The student that answers: an endpoint's, an export through its runtime (no torch), or a torch model."""
    if base_url:
        from fcot.evaluate.endpoint import EndpointStudent

        return EndpointStudent(base_url, served_model or model)
    from fcot.models import open_student

    if info.export is None:  # an export runs without transformers
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own bar is the only one
    return open_student(model, threads=threads, precision=precision or "auto")


def _evaluate(student: Any, info: Any, task: Any, template: str, split: str, limit: int | None, batch_size: int,
              max_new_tokens: int | None, out: Path, as_json: bool, data_dir: Path | None, base: str, path: Path,
              started: float, *, sampling: tuple[int, float], questions: list[int] | None, split_name: str,
              calculator: bool) -> None:
    """Generate with a progress bar, and print the result table (or JSON)."""
    from rich.table import Table

    from fcot.evaluate.generate import EvalOptions, evaluate_model

    note = student.precision_note()
    with progress_bar(disable=as_json) as progress:
        bar = progress.add_task(f"{task.key} {template}", total=None)
        options = EvalOptions(split=split, split_name=split_name, questions=questions, limit=limit,
                              samples=sampling[0], temperature=sampling[1], batch_size=batch_size,
                              max_new_tokens=max_new_tokens, stop=info.stop, out_root=out,
                              finetune_key=info.finetune_key, base_model=base, data_dir=data_dir,
                              calculator=calculator)
        cd, evaluation = evaluate_model(student, task, template, options,
                                        progress=lambda n: progress.update(bar, advance=n),
                                        on_start=lambda: note and err_console.print(note, highlight=False))
    result = _describe(cd, evaluation, path, time.perf_counter() - started)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"{student.name} on {task.key} ({split})")
    for column in ("task", "template", "n", "accuracy", "tokens/s", "wall time"):
        table.add_column(column, justify="right" if column not in ("task", "template") else "left")
    tps = result["tokens_per_s"]
    table.add_row(result["task"], result["template"], str(result["n"]), f"{100 * result['accuracy']:.2f}%",
                  f"{tps:.1f}" if tps is not None else "-", f"{result['wall_s']:.1f}s")
    console.print(table)
    console.print(f"completions: {path}", highlight=False, soft_wrap=True)
