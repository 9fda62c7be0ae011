"""Run every benchmark in this folder, one after another, with its default settings.

    .venv/bin/python benchmarks/run_all.py [NAME ...]

Each script measures its own baseline in the same run, prints its ratios and writes
`benchmarks/results/<name>.json` (hardware and library versions included). Pytest does not run these.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["teacher_concurrency", "train_throughput", "student_train", "generate_throughput", "decode_step",
              "serve_load", "export_speed"]  # export_speed needs the demo student: `make demo` first


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"error: unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names or BENCHMARKS:
        print(f"\n=== {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py")])
        print(f"=== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
