"""Server load: N concurrent chat clients for T seconds against `fcot serve`, against a baseline server.

    python benchmarks/serve_load.py [--model smollm2-135m-instruct|tiny|RUN_DIR] [--clients 32] [--seconds 60]
    python benchmarks/serve_load.py --baseline-src fcot-out/before/src   # an earlier checkout's fcot serve
                                                                        # (git worktree add fcot-out/before COMMIT)

Each configuration starts a fresh `fcot serve MODEL` process (the real CLI, `--threads` torch threads), warms it
up with one request, then runs the clients (official `openai` async client, greedy chat requests with the task's
test questions) for `--seconds`; requests still open at the end are dropped and counted as unfinished. Reports
answers/s, generated tokens/s (from the responses' usage), p50/p95 latency, errors, and the server's peak RSS in
the first vs the last 10 s. The baseline is this tree's server at `--max-batch 1`, or with `--baseline-src` the
fcot of another source tree (e.g. `git worktree add fcot-out/before <commit>`) at its default batch. A run folder as
MODEL is served task-aware (its trained question format). Writes benchmarks/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script

sys.path.insert(0, str(common.ROOT / "tests" / "helpers"))  # the tests' chat template
from tiny_lm import CHAT_TEMPLATE  # noqa: E402

from fcot.formats import write_json
from fcot.models import save_tiny_model
from fcot.models.edge import export_info
from fcot.models.loading import DEFAULT_STUDENT
from fcot.tasks import get_task

RESULTS = Path(__file__).parent / "results" / "serve_load.json"
RSS_WINDOW_S = 10  # peak RSS is compared between the first and the last this many seconds


class Server:
    """`fcot serve` in a subprocess on a free port, with its resident memory sampled every 0.2 s."""

    def __init__(self, model: str, max_batch: int | None, threads: int, log: Path, src: Path | None = None) -> None:
        self.log, self.samples, self.stopped = log, [], threading.Event()
        device = [] if export_info(model) else ["--device", "cpu"]  # an export runs on its own runtime
        command = [sys.executable, "-m", "fcot", "serve", model, "--port", "0", "--threads", str(threads), *device,
                   *(["--max-batch", str(max_batch)] if max_batch else [])]
        env = {**os.environ, "PYTHONPATH": str(src)} if src else None  # another source tree's fcot
        with log.open("w") as sink:
            self.proc = subprocess.Popen(command, stdout=sink, stderr=sink, env=env)

    def __enter__(self) -> str:
        deadline = time.time() + 300
        while not (found := re.search(r"at (http://\S+/v1)", self.log.read_text())):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"fcot serve did not start:\n{self.log.read_text()}")
            time.sleep(0.2)
        threading.Thread(target=self._sample, daemon=True).start()
        return found.group(1)

    def _sample(self) -> None:
        status = Path(f"/proc/{self.proc.pid}/status")
        while not self.stopped.wait(0.2):
            try:
                lines = status.read_text().splitlines()
            except OSError:  # the server has exited
                return
            rss_kb = next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)
            self.samples.append((time.monotonic(), rss_kb / 1024))

    def peak_rss_mb(self, start: float, end: float) -> float:
        return round(max((mb for t, mb in self.samples if start <= t <= end), default=0.0), 1)

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.proc.kill()  # at once: requests the clients dropped may still be generating
        self.proc.wait(timeout=60)


async def load(url: str, model: str, questions: list[str], clients: int, seconds: float, max_tokens: int) -> dict:
    """Run the clients for `seconds`: latencies of the answers, errors by kind, unfinished requests, the window."""
    import httpx
    import openai

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600,
                                http_client=openai.DefaultAsyncHttpxClient(limits=limits))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = tokens = 0

    async def ask(question: str) -> None:
        nonlocal sent, tokens
        sent += 1
        start = time.perf_counter()
        try:
            answer = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": question}], max_tokens=max_tokens, temperature=0)
            latencies.append(time.perf_counter() - start)
            tokens += answer.usage.completion_tokens
        except openai.APIError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    async def user(offset: int) -> None:
        for i in range(offset, 10**9, clients):
            await ask(questions[i % len(questions)])

    await ask(questions[0])  # warm-up: first-call costs stay out of the measurement
    latencies.clear()
    errors.clear()
    sent, tokens, started = 0, 0, time.monotonic()
    tasks = [asyncio.create_task(user(i)) for i in range(clients)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ended = time.monotonic()
    await client.close()
    return {"latencies": latencies, "errors": errors, "unfinished": sent - len(latencies) - sum(errors.values()),
            "window": (started, ended), "tokens": tokens}


def measure(args: argparse.Namespace, max_batch: int | None, questions: list[str], tmp: Path,
            src: Path | None = None) -> dict:
    server = Server(args.model, max_batch, args.threads, tmp / f"serve-{max_batch}-{bool(src)}.log", src)
    with server as url:
        name = re.search(r"serving (\S+)", server.log.read_text()).group(1)
        result = asyncio.run(load(url, name, questions, args.clients, args.seconds, args.max_tokens))
    started, ended = result["window"]
    lat = sorted(result["latencies"])
    return {
        "max_batch": max_batch or "default",
        "source": _commit(src) if src else "this tree",
        "answers": len(lat),
        "answers_per_s": round(len(lat) / args.seconds, 3),
        "generated_tokens_per_s": round(result["tokens"] / args.seconds, 1),
        "errors": sum(result["errors"].values()),
        "errors_by_kind": result["errors"],
        "unfinished_at_end": result["unfinished"],
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
        "peak_rss_mb_first_10s": server.peak_rss_mb(started, started + RSS_WINDOW_S),
        "peak_rss_mb_last_10s": server.peak_rss_mb(ended - RSS_WINDOW_S, ended),
    }


def _commit(src: Path) -> str:
    """The commit a source tree is checked out at (its path when it is not a git checkout)."""
    found = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"commit {found.stdout.strip()}" if found.returncode == 0 else common.repo_relative(src)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_STUDENT, help="run folder, model folder, GGUF/ONNX export, the default "
                        "student, or 'tiny' (a random-init 2-layer Llama: the server's own costs, not the model's)")
    parser.add_argument("--task", default="coin_flip", help="whose test questions the clients ask")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--max-batch", type=int, default=None, help="the measured server's (default: fcot serve's)")
    parser.add_argument("--baseline-src", type=Path, help="serve the baseline from this source tree (its `src/`) "
                        "at its default batch, instead of this tree's at --max-batch 1")
    parser.add_argument("--threads", type=int, default=1, help="threads of the server's model (torch or llama.cpp)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    task = get_task(args.task)
    questions = [s["question"] for s in task.load_dataset().select(task.load_split()["test"])]
    load_before = os.getloadavg()
    model_name = common.repo_relative(args.model) if Path(args.model).exists() else args.model  # or a name
    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "tiny":
            args.model = str(save_tiny_model(Path(tmp) / "tiny", chat_template=CHAT_TEMPLATE))
        batched = measure(args, args.max_batch, questions, Path(tmp))
        baseline = (measure(args, None, questions, Path(tmp), args.baseline_src.resolve()) if args.baseline_src
                    else measure(args, 1, questions, Path(tmp)))
    result = {
        "benchmark": "serve_load",
        "command": common.command_line(),
        "model": model_name, "task": args.task, "clients": args.clients, "seconds": args.seconds,
        "max_tokens": args.max_tokens, "server_threads": args.threads,
        "batched": batched, "baseline": baseline,
        "speedup_tokens_per_s": round(batched["generated_tokens_per_s"] / baseline["generated_tokens_per_s"], 2)
        if baseline["generated_tokens_per_s"] else None,
        "targets": {"speedup_tokens_per_s": 4, "latency_p50_s": 5, "errors": 0},
        "hardware": {**common.hardware(), "load_average_at_start": [round(x, 2) for x in load_before]},
        "versions": {p: importlib.metadata.version(p) for p in ("openai", "fastapi", "starlette", "uvicorn")},
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(args.out, result, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
