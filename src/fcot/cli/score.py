"""`fcot score`: accuracy of completion files with the paper's evaluator (`fcot evaluate` is its old name)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from fcot.cli import app
from fcot.cli.common import DataDirOption, SplitNameOption, console, err_console
from fcot.errors import ConfigError, DataError
from fcot.evaluate import evaluate_completions
from fcot.formats import CompletionDataset
from fcot.tasks import get_task, resolve_task

SPLIT_PARTS = ("all", "train", "test")


def completion_files(paths: list[Path]) -> list[Path]:
    """The given files, plus every completion file (`D_*.json`, students' `F_*__D_*.json`) under the given folders."""
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*D_*.json") if p.name.startswith(("D_", "F_")))
            if not found:
                raise DataError(f"{path}: no D_*.json completion files in this folder; pass a file or its folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder; pass completion files (D_<task>.json) or folders of them")
    return files


def evaluate_file(path: Path, split: str, split_name: str, data_dir: Path | None, strict: bool) -> dict:
    """Evaluate one completion file; a summary dict with the file name."""
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file; expected a CompletionDataset JSON with metadata and data")
    cd = CompletionDataset.load(path)
    indices = None
    if split != "all":
        indices = get_task(cd.dataset_key).load_split(split_name, data_dir)[split]
    evaluation = evaluate_completions(cd, sample_indices=indices, strict=strict)
    return {"file": str(path), **evaluation.to_json(records=False)}


@app.command()
def score(
    paths: list[Path] = typer.Argument(..., help="Completion files (D_<task>.json) or folders searched for them."),
    split: str = typer.Option("all", "--split", help="Score only this part of the task's split: all, train or test."),
    split_name: str = SplitNameOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (file, dataset_key, n, accuracy...) instead."),
    strict: bool = typer.Option(
        False, "--strict",
        help="Stricter than the paper: choice letters as (C) or alone, answer prefix required, numbers by value.",
    ),
    task: Optional[str] = typer.Option(None, "--task", help="Custom task file (.jsonl/.csv/.json) of these completions."),
    answer_type: Optional[str] = typer.Option(None, "--answer-type", help="Answer type of --task: number, choice, "
                                              "yes_no or text."),
    question_field: str = typer.Option("question", "--question-field", help="Question column of --task."),
    answer_field: str = typer.Option("answer", "--answer-field", help="Answer column of --task."),
    data_dir: Optional[Path] = DataDirOption,
) -> None:
    """Score completion files with the paper's evaluator: accuracy per file (a fraction in --json, % in tables)."""
    if split not in SPLIT_PARTS:
        raise ConfigError(f"--split {split!r}: unknown split part; use one of {', '.join(SPLIT_PARTS)}")
    if task is not None:
        resolve_task(task, answer_type, question_field, answer_field)  # registers a custom task under its key
    elif answer_type is not None:
        raise ConfigError("--answer-type needs --task <file.jsonl|file.csv>; drop it for built-in tasks")
    results = [evaluate_file(path, split, split_name, data_dir, strict) for path in completion_files(paths)]
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    table = Table(title=f"Accuracy ({'strict' if strict else 'paper'} evaluator, split: {split})")
    for name in ("file", "task", "template", "n", "acc %", "contains %", "format %"):
        table.add_column(name, justify="right" if "%" in name or name == "n" else "left",
                         no_wrap=name == "task", overflow="fold")
    for r in results:
        path = Path(r["file"])
        rates = [f"{100 * r[name]:.2f}" for name in ("accuracy", "contains_answer", "correct_format")]
        table.add_row(f"{path.parent.name}/{path.name}", r["dataset_key"], r["template"], str(r["n"]), *rates)
    console.print(table)


@app.command("evaluate", hidden=True)
@functools.wraps(score)
def evaluate(*args, **kwargs) -> None:
    """The old name of `fcot score`."""
    err_console.print("note: `fcot evaluate` is now `fcot score`", highlight=False)
    score(*args, **kwargs)
