"""Engine-backed evaluation against local evaluation: a trained run's GGUF export served by llama.cpp's own
OpenAI-compatible server (`llama_cpp.server`) and answered through `fcot eval --base-url`'s client, against the
same export answered in this process (the same llama.cpp runtime) and against the run itself (torch fp32).

    python benchmarks/engine_parity.py fcot-out/demo-parity/runs/zs_cot_coin_flip --threads 1 \
        --out benchmarks/results/engine_parity.json

Shares of identical answers (extracted) and completions over the run's first N test questions, each side's
accuracy and tokens/s; the hardware and the command are recorded.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script
import httpx

from fcot.evaluate.endpoint import EndpointStudent
from fcot.evaluate.generate import EvalOptions, evaluate_model, generation_of
from fcot.export import export_run
from fcot.formats import write_json
from fcot.models import open_student, read_run_info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(student, info, n: int, out: Path) -> dict:
    options = EvalOptions(limit=n, stop=info.stop, out_root=out, batch_size=64)
    cd, evaluation = evaluate_model(student, info.task, info.template, options)
    gen = generation_of(cd)
    return {"accuracy": evaluation.accuracy, "tokens_per_s": round(gen.tokens_per_s, 2), "seconds": round(gen.seconds, 1),
            "predictions": {r["sample_index"]: r["prediction"] for r in evaluation.records},
            "completions": {i: rows[0]["completion"] for i, rows in cd.data.items()}}


def same(a: dict, b: dict, key: str) -> float:
    return sum(a[key][i] == b[key].get(i) for i in a[key]) / len(a[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished fcot train run")
    parser.add_argument("--quantize", default="q8_0")
    parser.add_argument("--n", type=int, default=150, help="test questions (default: 150, coin flip's whole split)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engine_parity.json"))
    args = parser.parse_args()
    info = read_run_info(args.run)
    with tempfile.TemporaryDirectory(prefix="fcot-engine-parity-") as tmp:
        gguf = export_run(args.run, info, "gguf", args.quantize, Path(tmp) / f"student-{args.quantize}.gguf")
        port = free_port()
        log = (Path(tmp) / "server.log").open("w")
        server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
                                   "student", "--host", "127.0.0.1", "--port", str(port), "--n_threads",
                                   str(args.threads), "--n_threads_batch", str(args.threads)], stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{url}/models").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            served = answer(EndpointStudent(url, "student", cache=Path(tmp) / "cache.sqlite3"), info, args.n,
                            Path(tmp) / "served")
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        local = answer(open_student(gguf, threads=args.threads), info, args.n, Path(tmp) / "local")
        torch_ref = answer(open_student(args.run, threads=args.threads, precision="fp32"), info, args.n,
                           Path(tmp) / "torch")
    sides = {"llama.cpp server": served, "llama.cpp in process": local, "torch fp32": torch_ref}
    result = {"command": "python " + " ".join(sys.argv), "hardware": common.hardware(), "run": str(args.run),
              "task": info.task, "n": len(served["predictions"]), "quantize": args.quantize,
              "served_vs_local_export": {"identical_answers": same(served, local, "predictions"),
                                         "identical_completions": same(served, local, "completions")},
              "served_vs_torch": {"identical_answers": same(served, torch_ref, "predictions"),
                                  "identical_completions": same(served, torch_ref, "completions")},
              "sides": {k: {"accuracy": v["accuracy"], "tokens_per_s": v["tokens_per_s"], "seconds": v["seconds"]}
                        for k, v in sides.items()}}
    for name, side in result["sides"].items():
        print(f"{name}: accuracy {100 * side['accuracy']:.2f}%, {side['tokens_per_s']} tok/s")
    for pair in ("served_vs_local_export", "served_vs_torch"):
        print(f"{pair}: identical answers {100 * result[pair]['identical_answers']:.1f}%, "
              f"completions {100 * result[pair]['identical_completions']:.1f}%")
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
