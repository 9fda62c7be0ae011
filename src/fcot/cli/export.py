"""`fcot export RUN_DIR --format gguf|onnx`: the trained student as a standalone model, then a parity check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from fcot.cli import app
from fcot.cli.common import DataDirOption, ThreadsOption, console, err_console, on_interrupt, quiet_libraries
from fcot.export.parity import DEFAULT_PARITY


@app.command("export")
def export(
    run_dir: Path = typer.Argument(..., help="A finished `fcot train` run folder."),
    fmt: str = typer.Option("gguf", "--format", help="gguf (llama.cpp, Ollama, LM Studio) or onnx (onnxruntime)."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="gguf: f16 (default), q8_0, q4_0 or f32; onnx: fp32 "
                                           "(default) or int8 (dynamic quantisation)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The .gguf file or ONNX folder to write (default: "
                                       "RUN_DIR/export/<run>-<quantize>.gguf or RUN_DIR/export/<run>-onnx-<quantize>)."),
    parity: int = typer.Option(DEFAULT_PARITY, "--parity", min=0, help="Test questions both models answer to compare them "
                               "(0: skip the check)."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1, help="Generation limit of the "
                                                 "parity check (default: as fcot eval)."),
    threads: Optional[int] = ThreadsOption,
    as_json: bool = typer.Option(False, "--json", help="Print the parity report as JSON."),
    data_dir: Optional[Path] = DataDirOption,
) -> None:
    """Export a trained student as GGUF or ONNX, runnable without torch, and check it answers like the run."""
    from fcot.export import check_format, check_parity, export_run, parity_path

    quiet_libraries()
    quantize = check_format(fmt, quantize)
    from fcot.models import read_run_info

    info = read_run_info(run_dir)
    with err_console.status(f"exporting {run_dir} as {fmt} {quantize}"):
        path = export_run(run_dir.expanduser(), info, fmt, quantize, out)
    err_console.print(f"exported: {path}", highlight=False, soft_wrap=True)
    on_interrupt(f"the export is saved at {path}; its parity check did not finish")
    if parity == 0:
        return
    with err_console.status(f"parity check: {parity} test questions, torch fp32 vs {fmt} {quantize}"):
        report = check_parity(run_dir.expanduser(), path, info, n=parity, threads=threads,
                              max_new_tokens=max_new_tokens, data_dir=data_dir)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_report(report, fmt, quantize)
    console.print(f"parity report: {parity_path(path)}", highlight=False, soft_wrap=True)


def _print_report(report: dict, fmt: str, quantize: str) -> None:
    from rich.table import Table

    table = Table(title=f"parity on {report['n']} {report['task']} test questions "
                        f"({100 * report['identical_answers']:.1f}% identical answers)")
    for column in ("model", "accuracy", "tokens/s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for side, label in (("torch", "torch fp32, batch 1"), ("edge", f"{fmt} {quantize}")):
        table.add_row(label, f"{100 * report[side]['accuracy']:.2f}%", f"{report[side]['tokens_per_s']:.1f}")
    console.print(table)
    console.print(f"identical completions: {100 * report['identical_completions']:.1f}%, "
                  f"speed: {report['speedup']}x torch", highlight=False)
