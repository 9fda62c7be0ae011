"""`fcot report`: tables and plots from results files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from fcot.cli import app
from fcot.cli.common import console


def results_table(results, title: str = "Results") -> Table:
    """A rich table of results, teacher first within each task."""
    from fcot.report.render import COLUMNS, result_notes, table_rows

    table = Table(title=title, caption="\n".join(result_notes(results)) or None, box=box.SIMPLE_HEAD)
    for col in COLUMNS:
        numeric = col not in {"task", "method", "model"}
        table.add_column(col, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")
    for row in table_rows(results):
        table.add_row(*row)
    return table


@app.command()
def report(
    path: Path = typer.Argument(Path("fcot-out"), help="A results.json file, or a folder searched for them."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write summary.md and the plots (default: PATH/report)."),
) -> None:
    """Compare students, teacher and baselines: a table, summary.md, accuracy.png and cost.png."""
    from fcot.report import load_results, render_report

    results = load_results(path)
    out = out or (path if path.is_dir() else path.parent) / "report"
    files = render_report(results, out)
    console.print(results_table(results))
    for name, file in files.items():
        console.print(f"{name}: {file}")
