"""`fcot report`: tables and plots from results files."""

from __future__ import annotations

from pathlib import Path

import typer

from fcot.cli import app
from fcot.cli.common import console, print_results
from fcot.formats import DEFAULT_OUT


@app.command()
def report(
    path: Path = typer.Argument(DEFAULT_OUT, help="A results.json file, or a folder searched for them."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write summary.md and the plots (default: PATH/report)."),
) -> None:
    """Compare students, teacher and baselines: a table, summary.md, accuracy.png and cost.png."""
    from fcot.errors import DataError
    from fcot.formats import check_writable
    from fcot.report import load_results, render_report

    results = load_results(path)
    if not results:
        raise DataError(f"{path}: the results list is empty; run `fcot run` to measure some")
    out = check_writable(out or (path if path.is_dir() else path.parent) / "report")
    files = render_report(results, out)
    print_results(results, "Results")
    for name, file in files.items():
        console.print(f"{name}: {file}", highlight=False, soft_wrap=True)
