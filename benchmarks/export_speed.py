"""Exported student on an edge runtime vs torch fp32 batch-1, on the same test questions of the run's task.

    python benchmarks/export_speed.py [RUN_DIR] [--n 100] [--formats FORMAT:QUANTIZE,...] [--threads N]

RUN_DIR defaults to the demo student (`make demo`: fcot-out/demo/runs/zs_cot_coin_flip). Each export is written
with `fcot.export.export_run` and answers the first N test questions the way `fcot eval` asks them (the run's
template and stop phrase, greedy, one question at a time), as does the run itself in torch fp32, before the exports
and again after them. Reported per format: tokens/s over the faster of the two torch passes (other work on the
machine slows whichever phase it overlaps), identical extracted answers, both accuracies, and the 1-minute load
average after each phase. Beside them, the limits: the machine's single-thread memory bandwidth and int8/fp32
matmul throughput, measured in the same run, give each format's tokens/s ceiling (the weights read once per token;
two multiply-adds per weight), so `share_of_bandwidth_limit` says how far a runtime is from it. llama.cpp's own
system info records which SIMD paths its build uses. Writes benchmarks/results/export_speed.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script

from fcot.export import export_run
from fcot.evaluate.generate import generation_of
from fcot.export.parity import answer_questions, compare
from fcot.formats import write_json
from fcot.models import open_student, read_run_info

RESULTS = Path(__file__).parent / "results" / "export_speed.json"
DEMO_RUN = Path("fcot-out/demo/runs/zs_cot_coin_flip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", default=DEMO_RUN)
    parser.add_argument("--n", type=int, default=100, help="test questions both sides answer")
    parser.add_argument("--formats", default="gguf:f16,gguf:q8_0,gguf:q4_0,onnx:fp32,onnx:int8",
                        help="format:quantize, comma-separated")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of both sides (default: all cores)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    info = read_run_info(args.run)
    if not info.task:
        print(f"error: {args.run} is not a finished fcot run; run `make demo` first or pass a RUN_DIR", file=sys.stderr)
        sys.exit(2)
    result: dict = {"command": "python " + " ".join(sys.argv), "hardware": common.hardware(), "run": str(args.run),
                    "run_config": info.to_json(), "n": args.n, "threads": args.threads, "limits": limits(),
                    "formats": {}}
    reference = answer_questions(open_student(args.run, precision="fp32"), info, args.n)
    torch_speeds = [round(generation_of(reference[0]).tokens_per_s, 2)]
    loads = {"torch": _load()}
    print(f"torch fp32 batch 1: accuracy {reference[1].accuracy:.3f}, {torch_speeds[0]} tok/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="fcot-export-bench-") as tmp:
        for spec in args.formats.split(","):
            fmt, quantize = spec.split(":")
            started = time.perf_counter()
            path = export_run(args.run, info, fmt, quantize, Path(tmp) / f"student-{quantize}.{fmt}")
            export_s = time.perf_counter() - started
            report = compare(*reference, *answer_questions(open_student(path, threads=args.threads), info, args.n))
            report.update(export_seconds=round(export_s, 1), size_mb=round(_size(path) / 2**20, 1))
            ceiling = result["limits"]["bandwidth_gb_s"] * 1e9 / _size(path)  # tokens/s if only reading weights
            report.update(bandwidth_limit_tokens_per_s=round(ceiling, 1),
                          share_of_bandwidth_limit=round(report["edge"]["tokens_per_s"] / ceiling, 3))
            result["formats"][spec], loads[spec] = report, _load()
            print(f"{spec}: {report['edge']['tokens_per_s']} tok/s", flush=True)
    again = answer_questions(open_student(args.run, precision="fp32"), info, args.n)
    torch_speeds.append(round(generation_of(again[0]).tokens_per_s, 2))
    loads["torch again"] = _load()
    result.update(torch_tokens_per_s=torch_speeds, load_average_1min_after=loads)
    for spec, report in result["formats"].items():
        report["speedup"] = round(report["edge"]["tokens_per_s"] / max(torch_speeds), 2)
        print(f"{spec}: {report['speedup']}x torch tokens/s ({report['edge']['tokens_per_s']} vs "
              f"{max(torch_speeds)}), identical answers {100 * report['identical_answers']:.1f}%, "
              f"accuracy {100 * report['edge']['accuracy']:.1f}% vs {100 * report['torch']['accuracy']:.1f}%")
    write_json(args.out, result)
    print(f"wrote {args.out}")


def limits() -> dict:
    """Single-thread memory bandwidth (GB/s, summing a 1 GiB array) and matmul GFLOP/s in int8 and fp32 (decoder-shaped,
    one thread), and llama.cpp's build features."""
    import numpy as np
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = np.ones(2**27, dtype=np.float64)  # 1 GiB
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        data.sum()
        best = max(best, data.nbytes / (time.perf_counter() - started) / 1e9)
    a, b = torch.randint(-8, 8, (64, 576), dtype=torch.int8), torch.randint(-8, 8, (576, 1536), dtype=torch.int8)
    started, rounds = time.perf_counter(), 0
    while time.perf_counter() - started < 2:
        torch._int_mm(a, b)  # int8 x int8 -> int32, what q8_0 kernels do
        rounds += 1
    int8_gops = 2 * 64 * 576 * 1536 * rounds / (time.perf_counter() - started) / 1e9
    fp32 = common.matmul_gflops(torch.float32, 64, 576, 1536)
    torch.set_num_threads(threads)
    try:
        import llama_cpp

        system_info = llama_cpp.llama_print_system_info().decode()
    except ImportError:
        system_info = None
    return {"bandwidth_gb_s": round(best, 2), "int8_gops": round(int8_gops, 1), "fp32_gflops": round(fp32, 1),
            "llama_cpp_system_info": system_info}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


if __name__ == "__main__":
    main()
