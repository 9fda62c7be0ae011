"""Decoding-step costs of torch generation: fcot's in-place key/value cache and once-cast bf16 weights against
transformers' defaults, on both generation paths.

    python benchmarks/decode_step.py [--precision auto|fp32|bf16] [--rounds 2] [--threads 1]

Paths: batched `generate` (what `fcot eval` runs: 32 MultiArith prompts, 64 new tokens, no stop phrase), the same
on a LoRA-wrapped student whose base weights are frozen (what validation during `fcot train` runs), and the
continuous batcher (what `fcot serve` runs: 64 coin-flip prompts, 24 new tokens, up to 32 rows). Variants, each
swapped in for the whole process so every path sees it:
  transformers   DynamicCache (every step `torch.cat`s each layer's cache) and `torch.inference_mode` (inside it
                 autocast casts every weight to bf16 again at every step)
  inplace_cache  fcot.models.roomy_cache only
  weight_cache   `torch.no_grad` only (autocast keeps each weight's bf16 copy for the region, frozen ones too)
  fcot           both, as fcot runs
Rounds alternate the variants; each keeps its best round. Every variant must give the same tokens as fcot.
Real SmolLM2-135M-Instruct. Writes benchmarks/results/decode_step.json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script

import torch
from peft import LoraConfig, get_peft_model
from transformers import DynamicCache

from fcot.formats import write_json
from fcot.models.completions import GenParams, Generator
from fcot.models.continuous import ContinuousBatcher
from fcot.models.loading import DEFAULT_STUDENT, load_model
from fcot.tasks import get_task
from fcot.templates import format_input

generate_module = importlib.import_module("fcot.models.generate")  # the package's `generate` is the function
roomy_module = importlib.import_module("fcot.models.roomy_cache")
rows_module = importlib.import_module("fcot.models.torch_rows")
RESULTS = Path(__file__).parent / "results" / "decode_step.json"
VARIANTS = ("transformers", "inplace_cache", "weight_cache", "fcot")
FCOT = {"inference": generate_module.inference, "cache": roomy_module.roomy_cache}


def inference_mode(device_type: str, compute_dtype: str | None = None, model: object = None) -> contextlib.ExitStack:
    """The context fcot generated in before: inference mode, and the autocast."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if compute_dtype:
        stack.enter_context(torch.autocast(device_type, dtype=getattr(torch, compute_dtype)))
    return stack


def use(variant: str) -> None:
    """Swap the variant's cache and inference context into fcot's generation modules."""
    inference = FCOT["inference"] if variant in ("weight_cache", "fcot") else inference_mode
    cache = FCOT["cache"] if variant in ("inplace_cache", "fcot") else (lambda config: DynamicCache(config=config))
    generate_module.inference = rows_module.inference = inference
    roomy_module.roomy_cache = rows_module.roomy_cache = cache


def prompts(task: str, template: str, n: int) -> list[str]:
    spec = get_task(task)
    rows = spec.load_dataset().select(spec.load_split()["test"])
    return [format_input(template, row, task=spec) for row in rows][:n]


def run_generate(student: Generator, batch: list[str]) -> tuple[float, list]:
    start = time.perf_counter()
    out = student.complete(batch, GenParams(max_tokens=64), batch_size=len(batch))
    return time.perf_counter() - start, [(g.text, g.new_tokens) for g in out]


def run_lora(student: Generator, batch: list[str]) -> tuple[float, list]:
    start = time.perf_counter()
    out, _ = generate_module.generate(student.model, student.tokenizer, batch, max_new_tokens=64,
                                      batch_size=len(batch), compute_dtype=student.compute_dtype)
    return time.perf_counter() - start, [(g.text, g.new_tokens) for g in out]


def run_batcher(student: Generator, batch: list[str]) -> tuple[float, list]:
    batcher = ContinuousBatcher(student.batch_rows(32))
    start = time.perf_counter()
    out = batcher.complete(batch, GenParams(max_tokens=24))
    return time.perf_counter() - start, [(rows[0].text, rows[0].new_tokens) for rows in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model(DEFAULT_STUDENT, device="cpu")
    student = Generator(loaded.model, loaded.tokenizer, DEFAULT_STUDENT, args.precision)
    base = load_model(DEFAULT_STUDENT, device="cpu")
    lora = Generator(get_peft_model(base.model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear")),
                     base.tokenizer, DEFAULT_STUDENT, args.precision)
    paths = {"generate": (run_generate, student, prompts("multiarith", "zs", 32)),
             "lora_validation": (run_lora, lora, prompts("multiarith", "zs", 32)),
             "continuous_batcher": (run_batcher, student, prompts("coin_flip", "zs", 64))}
    best: dict = {path: {} for path in paths}
    tokens: dict = {path: {} for path in paths}
    for round_ in range(args.rounds):
        for variant in VARIANTS:
            use(variant)
            for path, (run, model, batch) in paths.items():
                seconds, out = run(model, batch)
                tokens[path][variant] = out
                best[path][variant] = min(best[path].get(variant, seconds), seconds)
                print(f"round {round_ + 1} {path:18} {variant:13} {seconds:6.1f} s", flush=True)
    use("fcot")
    results = {}
    for path in paths:
        new_tokens = sum(n for _, n in tokens[path]["fcot"])
        results[path] = {
            "prompts": len(paths[path][2]), "new_tokens": new_tokens,
            "tokens_per_s": {v: round(new_tokens / s, 1) for v, s in best[path].items()},
            "speedup_vs_transformers": {v: round(best[path]["transformers"] / s, 2) for v, s in best[path].items()},
            "same_tokens_as_fcot": {v: tokens[path][v] == tokens[path]["fcot"] for v in VARIANTS},
        }
    report = {"benchmark": "decode_step", "command": common.command_line(), "model": DEFAULT_STUDENT,
              "precision": student.precision, "rounds": args.rounds, "paths": results,
              "hardware": common.hardware()}
    write_json(args.out, report)
    for path, result in results.items():
        print(path, result["tokens_per_s"], result["speedup_vs_transformers"], result["same_tokens_as_fcot"])


if __name__ == "__main__":
    main()
