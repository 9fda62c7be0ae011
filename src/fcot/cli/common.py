"""Options and helpers shared by the verb modules."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

DataDirOption = typer.Option(
    None, "--data-dir", envvar="FCOT_DATA_DIR", help="fcot-data folder (dataset/, split/, ...); default: the bundled copy."
)
OutDirOption = typer.Option(Path("fcot-out"), "--out", "-o", help="Output root (paper layout: completion_data/, ...).")

__all__ = ["DataDirOption", "OutDirOption", "Optional", "console", "err_console"]
