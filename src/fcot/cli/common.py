"""Options and helpers shared by the verb modules."""

from __future__ import annotations

import os
import warnings

from pathlib import Path
from typing import Any, Callable, Optional

import typer
from pydantic import BaseModel
from rich.console import Console

from fcot.formats import DEFAULT_OUT
from fcot.tasks.task import DEFAULT_SPLIT

console = Console()
err_console = Console(stderr=True)
interrupt_note: dict[str, str] = {}  # what an interrupted verb has saved: set by the verb, printed by `main`

DataDirOption = typer.Option(
    None, "--data-dir", envvar="FCOT_DATA_DIR", help="fcot-data folder (dataset/, split/, ...); default: the bundled copy."
)
AnswerTypeOption = typer.Option(
    None, "--answer-type", help="For a task file (.jsonl/.csv/.json of questions and answers): number, choice, "
    "yes_no or text."
)
SplitNameOption = typer.Option(DEFAULT_SPLIT, "--split-name", help="Split file split/<task>__<name>.json, e.g. "
                               "template (the paper's template-held-out splits of MultiArith and Date).")
OutDirOption = typer.Option(DEFAULT_OUT, "--out", "-o", help="Output root (paper layout: completion_data/, ...).")
ThreadsOption = typer.Option(None, "--threads", min=1, help="CPU threads for torch or an export's runtime (default: "
                             "one per core; on a busy machine fewer can be much faster).")
PrecisionOption = typer.Option(None, "--precision", help="Matmul precision: auto (default: bf16 where the "
                               "hardware has it: GPUs, AMX/AVX512-BF16 CPUs; else fp32; $FCOT_PRECISION overrides), "
                               "fp32 or bf16.")


def default_of(config: type[BaseModel], field: str) -> Any:
    """A config field's default: the flag's default and what its help text states."""
    return config.model_fields[field].default


def announce_precision(requested: str | None, device: str | None = None) -> str:
    """Resolve the precision (None: auto), print the choice (`precision: bf16 (AMX)`) and return its name.

    Verbs call it once the work starts (model loaded), so a bad input still ends in a single error line.
    """
    from fcot.precision import resolve_precision

    resolved = resolve_precision(requested or "auto", device)
    err_console.print(str(resolved), highlight=False)
    return resolved.name


def set_threads(threads: int | None) -> None:
    """Pin torch's CPU thread count when asked."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def on_interrupt(saved: str) -> None:
    """Say what Ctrl-C leaves behind from here on, for the one line `fcot.cli.main` prints then."""
    interrupt_note["saved"] = saved


def progress_bar(*extra_columns: Any, disable: bool = False) -> Any:
    """A transient progress bar on stderr (what, bar, done/total, time, extras); off when stderr is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    return Progress(*columns, *extra_columns, console=err_console, transient=True,
                    disable=disable or not err_console.is_terminal)


def print_results(results: list, title: str) -> None:
    """The results table: a rich table on a terminal, plain Markdown elsewhere (logs keep whole cells)."""
    from rich import box
    from rich.table import Table

    from fcot.report.render import COLUMNS, markdown_table, result_notes, table_rows

    notes = result_notes(results)
    if not console.is_terminal:
        text = f"{title}\n\n{markdown_table(results)}" + "".join(f"\n{note}" for note in notes)
        console.print(text, highlight=False, markup=False, soft_wrap=True)
        return
    table = Table(title=title, caption="\n".join(notes) or None, box=box.SIMPLE_HEAD)
    for col in COLUMNS:
        numeric = col not in {"task", "method", "model"}
        table.add_column(col, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")
    for row in table_rows(results):
        table.add_row(*row)
    console.print(table)


def quiet_libraries() -> None:
    """Keep library progress bars and info logs off the terminal (set before they are imported); fcot shows its own."""
    for name, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
                        ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")  # internal deprecations


class TrainProgress:
    """A rich progress bar showing step, loss and tokens/s, started at the first step (never on other processes).

    When stderr is not a terminal (a log file, CI), a plain line is written every tenth of the run instead.
    """

    def __init__(self, enabled: bool, header: Callable[[], object] | None = None) -> None:
        self.enabled = enabled
        self.header = header  # called once, at the first step (e.g. to print the precision)
        self.bar = None
        self.task = None

    def __enter__(self):
        return self.report if self.enabled else None

    def report(self, event: dict) -> None:
        if self.header is not None:
            self.header, header = None, self.header
            header()
        loss = f"loss {event['loss']:.4f}  " if event.get("loss") is not None else ""
        info = f"{loss}{event['tokens_per_s']:,.0f} tok/s  epoch {event['epoch'] or 0:.2f}"
        if not err_console.is_terminal:
            every = max(1, event["max_steps"] // 10)
            if event["step"] % every == 0 or event["step"] == event["max_steps"]:
                err_console.print(f"train step {event['step']}/{event['max_steps']}  {info}", highlight=False)
            return
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = [TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.fields[info]}")]
            self.bar = Progress(*columns, console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("train", total=None, info="")
        self.bar.update(self.task, total=event["max_steps"], completed=event["step"], info=info)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


__all__ = ["AnswerTypeOption", "DataDirOption", "Optional", "OutDirOption", "PrecisionOption", "ThreadsOption",
           "TrainProgress", "announce_precision", "console", "err_console", "interrupt_note", "on_interrupt",
           "print_results", "progress_bar", "quiet_libraries", "set_threads"]
