"""A GGUF export answering a task's test questions one at a time vs continuously batched by llama.cpp.

    python benchmarks/edge_batching.py EXPORT.gguf [--n 100] [--threads 1]

Both sides answer the first N test questions the way `fcot eval EXPORT` asks them (the run's template, stop phrase
and token budget, greedy): `batch_size=1` (one sequence at a time, as before batching existed) and the default
(up to 32 sequences per `llama_decode` step, `fcot.models.llama_rows`), alternating twice so that other work on the
machine weighs on both. Reports wall-clock answers/s and generated tokens/s of each pass, the speedup of the faster
passes, identical extracted answers and both accuracies. Writes benchmarks/results/edge_batching.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script

from fcot.evaluate.generate import EvalOptions, evaluate_model, generation_of
from fcot.formats import write_json
from fcot.models import open_student, read_run_info

RESULTS = Path(__file__).parent / "results" / "edge_batching.json"


def answer(student, info, n: int, batch_size: int | None) -> dict:
    """One pass over the first n test questions: speed, accuracy and the extracted answers."""
    with tempfile.TemporaryDirectory(prefix="fcot-edge-batching-") as tmp:
        options = EvalOptions(limit=n, max_new_tokens=None, stop=info.stop, out_root=tmp,
                              **({"batch_size": batch_size} if batch_size else {}))
        start = time.perf_counter()
        cd, evaluation = evaluate_model(student, info.task, info.template, options)
        seconds = time.perf_counter() - start
    gen = generation_of(cd)
    return {"seconds": round(seconds, 2), "answers_per_s": round(n / seconds, 3),
            "generated_tokens_per_s": round(gen.new_tokens / seconds, 2), "accuracy": evaluation.accuracy,
            "answers": {r["sample_index"]: r["prediction"] for r in evaluation.records}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="a .gguf file written by fcot export")
    parser.add_argument("--n", type=int, default=100, help="test questions each pass answers")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    info = read_run_info(args.export)
    if info.export is None or args.export.suffix != ".gguf":
        print(f"error: {args.export} is not a GGUF file written by fcot export; export a run with fcot export",
              file=sys.stderr)
        sys.exit(2)
    student = open_student(args.export, threads=args.threads)
    passes: dict[str, list[dict]] = {"one_at_a_time": [], "batched": []}
    for _ in range(2):
        passes["one_at_a_time"].append(answer(student, info, args.n, batch_size=1))
        passes["batched"].append(answer(student, info, args.n, batch_size=None))
    best = {side: max(runs, key=lambda r: r["generated_tokens_per_s"]) for side, runs in passes.items()}
    single, batched = best["one_at_a_time"], best["batched"]
    result = {
        "benchmark": "edge_batching",
        "command": common.command_line(),
        "export": common.repo_relative(args.export), "precision": student.precision, "task": info.task,
        "n": args.n, "threads": args.threads,
        "speedup_tokens_per_s": round(batched["generated_tokens_per_s"] / single["generated_tokens_per_s"], 2),
        "identical_answers": sum(batched["answers"][i] == a for i, a in single["answers"].items()) / args.n,
        "accuracy": {side: best[side]["accuracy"] for side in best},
        "passes": {side: [{k: v for k, v in r.items() if k != "answers"} for r in runs] for side, runs in passes.items()},
        "hardware": common.hardware(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(args.out, result, indent=2)
    print({k: result[k] for k in ("speedup_tokens_per_s", "identical_answers", "accuracy")})


if __name__ == "__main__":
    main()
