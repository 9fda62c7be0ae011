"""The portable llama.cpp build fcot installs vs builds that use more of this CPU's SIMD paths, on a GGUF export.

    benchmarks/llama_builds.sh                                   # builds fcot-out/llama-builds/{avx512,native}
    python benchmarks/llama_builds.py EXPORT.gguf [--rounds 3]   # portable vs each built folder, one thread

Each build runs in its own process (llama-cpp-python loads the library folder named by LLAMA_CPP_LIB_PATH) and
times, on one thread, the prompt of a coin-flip question repeated to ~90 tokens (prefill tokens/s) and 32 greedy
tokens after it (batch-1 decoding tokens/s); builds alternate for `--rounds` rounds so that other work on the machine
weighs on all of them, and the median of the rounds is kept. Records each build's llama.cpp system info (its SIMD
paths), or how it failed. Writes benchmarks/results/llama_builds.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script

from fcot.formats import write_json

RESULTS = Path(__file__).parent / "results" / "llama_builds.json"
BUILDS = Path("fcot-out/llama-builds")
PROBE = """
import json, sys, time, llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=512, n_threads=1, n_threads_batch=1, verbose=False)
ids = llm.tokenize(("Q: A coin is heads up. Whitney flips the coin. Erika does not flip the coin. Tj does not flip "
                    "the coin. Benito flips the coin. Is the coin still heads up? ###" * 2).encode(), add_bos=True)
llm.eval(ids)  # warm-up
llm.reset(); start = time.perf_counter(); llm.eval(ids); prefill = time.perf_counter() - start
start = time.perf_counter()
for n, _ in enumerate(llm.generate(ids, temp=0.0, repeat_penalty=1.0), 1):
    if n == 33:
        break
decode = time.perf_counter() - start  # 32 new tokens after the first (whose prompt is cached)
print(json.dumps({"prefill_tokens_per_s": round(len(ids) / prefill, 1), "decode_tokens_per_s": round(32 / decode, 1),
                  "system_info": llama_cpp.llama_print_system_info().decode().strip()}))
"""


def probe(gguf: Path, lib: Path | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **({"LLAMA_CPP_LIB_PATH": str(lib)} if lib else {})}
    done = subprocess.run([sys.executable, "-c", PROBE, str(gguf)], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        return {"failed": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="a .gguf file")
    parser.add_argument("--builds", type=Path, default=BUILDS, help="folder of builds (NAME/bin), from llama_builds.sh")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    libs = {"portable (installed)": None, **{d.name: d / "bin" for d in sorted(args.builds.iterdir())
                                             if (d / "bin" / "libllama.so").is_file()}}
    runs: dict[str, list[dict]] = {name: [] for name in libs}
    for _ in range(args.rounds):
        for name, lib in libs.items():
            runs[name].append(probe(args.export, lib))
    builds = {}
    for name, found in runs.items():
        ok = [r for r in found if "failed" not in r]
        builds[name] = {"system_info": ok[0]["system_info"], "rounds": len(ok),
                        **{k: statistics.median(r[k] for r in ok) for k in ("prefill_tokens_per_s", "decode_tokens_per_s")}
                        } if ok else {"failed": found[0]["failed"]}
    base = builds["portable (installed)"]
    for name, build in builds.items():
        if "failed" not in build and "failed" not in base:
            build["vs_portable"] = {k: round(build[k] / base[k], 2) for k in ("prefill_tokens_per_s", "decode_tokens_per_s")}
    result = {"benchmark": "llama_builds", "command": common.command_line(),
              "export": common.repo_relative(args.export), "threads": 1, "builds": builds,
              "hardware": common.hardware(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json(args.out, result, indent=2)
    print(json.dumps(builds, indent=2))


if __name__ == "__main__":
    main()
