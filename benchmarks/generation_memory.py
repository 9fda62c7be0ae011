"""Peak memory and speed of answering a test split: batches bounded by their key/value cache (fcot's default) against
a fixed 64 answers at a time, each in its own process, one after the other on the same machine.

    python benchmarks/generation_memory.py --task gsm8k --template fs_cot --n 128 --precision fp32
    python benchmarks/generation_memory.py --run fcot-out/ten/gsm8k/runs/zs_cot_gsm8k --n 128

The default student untrained (or a trained run, which brings its own template and stop phrase) answers the first
n test questions with the table's token budget; each side records its peak RSS (the process's, model included),
answers per second and tokens per second, and the share of identical answers. Writes
benchmarks/results/generation_memory/<task>-<template>-<precision>.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import common  # benchmarks/common.py, beside this script

from fcot.formats import write_json

RESULTS = Path(__file__).parent / "results" / "generation_memory"
UNBOUNDED = 1 << 50  # a cache budget no batch reaches: 64 answers at a time, as before


def side(args: argparse.Namespace, cache_bytes: int | None, out: Path) -> dict:
    """Answer in a fresh process (its peak RSS is its own) and return what it measured."""
    child = [sys.executable, __file__, "--child", str(cache_bytes or 0), "--out-dir", str(out), *sys.argv[1:]]
    lines = subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()
    return json.loads(lines[-1])


def answer(args: argparse.Namespace) -> None:
    """The child: answer, then print one JSON line."""
    import torch

    from fcot.evaluate.generate import EvalOptions, evaluate_model, generation_of
    from fcot.models import open_student, read_run_info

    generation = importlib.import_module("fcot.models.generate")  # the module (fcot.models.generate is a function)
    if args.child:
        generation.KV_CACHE_BYTES = args.child
    torch.set_num_threads(args.threads)
    student = open_student(args.run or "smollm2-135m-instruct", threads=args.threads, precision=args.precision)
    info = read_run_info(args.run) if args.run else None
    task, template = (info.task, info.template) if info else (args.task, args.template)
    options = EvalOptions(limit=args.n, stop=info.stop if info else (), out_root=args.out_dir,
                          max_new_tokens=args.max_new_tokens, batch_size=64)
    cd, evaluation = evaluate_model(student, task, template, options)
    gen = generation_of(cd)
    print(json.dumps({"task": task, "template": template, "precision": student.precision,
                      "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
                      "seconds": round(gen.seconds, 1), "answers_per_s": round(args.n / gen.seconds, 3),
                      "tokens_per_s": round(gen.tokens_per_s, 1), "accuracy": evaluation.accuracy,
                      "predictions": {r["sample_index"]: r["prediction"] for r in evaluation.records}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a trained run (default: the untrained default student)")
    parser.add_argument("--task", default="gsm8k")
    parser.add_argument("--template", default="fs_cot")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        answer(args)
        return
    with tempfile.TemporaryDirectory(prefix="fcot-generation-memory-") as tmp:
        bounded = side(args, None, Path(tmp) / "bounded")
        fixed = side(args, UNBOUNDED, Path(tmp) / "fixed")
    same = sum(bounded["predictions"][i] == fixed["predictions"].get(i) for i in bounded["predictions"])
    result = {"command": "python " + " ".join(sys.argv), "hardware": common.hardware(),
              "task": bounded["task"], "template": bounded["template"], "n": args.n, "precision": bounded["precision"],
              "identical_answers": same / len(bounded["predictions"]),
              "answers_per_s_ratio": round(bounded["answers_per_s"] / fixed["answers_per_s"], 3),
              "kv_cache_bounded": {k: v for k, v in bounded.items() if k != "predictions"},
              "fixed_64": {k: v for k, v in fixed.items() if k != "predictions"}}
    for name in ("kv_cache_bounded", "fixed_64"):
        r = result[name]
        print(f"{name}: peak {r['peak_rss_gb']} GB, {r['answers_per_s']} answers/s, {r['tokens_per_s']} tok/s")
    print(f"identical answers {100 * result['identical_answers']:.1f}%, speed ratio {result['answers_per_s_ratio']}")
    path = RESULTS / f"{result['task']}-{result['template']}-{result['precision']}.json"
    write_json(path, result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
