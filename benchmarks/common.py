"""What every benchmark reports beside its own figures: the CPU, load, library versions and matmul peaks."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict:
    """CPU, core count, load, torch threads and capability, and the versions that matter for speed."""
    import torch
    import transformers

    import fcot

    return {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "torch_threads": torch.get_num_threads(), "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cuda": torch.cuda.is_available(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
            "fcot": fcot.__version__}


def matmul_gflops(dtype, m: int = 1024, k: int = 1024, n: int = 1024, seconds: float = 2.0) -> float:
    """Best-of-runs GFLOP/s of an (m x k) @ (k x n) matmul in dtype."""
    import torch

    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    a @ b
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * m * k * n / (time.perf_counter() - start) / 1e9)
    return best


ROOT = Path(__file__).resolve().parents[1]  # the repository


def repo_relative(path: str | Path) -> str:
    """A path as results record it: relative to the repository (with `..` for one outside it), never a machine's
    absolute path."""
    return os.path.relpath(Path(path).resolve(), ROOT)


def command_line() -> str:
    """The command that ran this benchmark as results record it: `python benchmarks/<script> ...`, every argument
    that is an absolute path or names an existing file or folder relative to the repository."""
    script, *args = sys.argv
    paths = (repo_relative(a) if Path(a).is_absolute() or Path(a).exists() else a for a in args)
    return shlex.join(["python", repo_relative(script), *paths])


def print_markdown_table(columns: list[str], rows: list[str]) -> None:
    """A Markdown table: the header of `columns`, its rule, then the rows (each already `| a | b |`)."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print(row)
