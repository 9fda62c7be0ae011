"""Student training throughput: fcot's length-grouped and packed batches vs plain padded batches, same model and data.

    python benchmarks/train_throughput.py --threads 1 --samples 192 --batch-size 32 --rounds 2

A random-init GPT-2 (4 layers x 256, SmolLM2's 49k tokenizer) is fully fine-tuned for one epoch on real curated
MultiArith samples (text-davinci-002 rationales, ft_cot_token) with `fcot.student.train`, once per batching mode.
Throughput counts real (non-padding) tokens per second of optimizer-step time; the modes run interleaved and the
best of `--rounds` counts. The machine's fp32 and bf16 matmul peaks are measured in the same run. Writes benchmarks/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script

import torch
import transformers

from fcot.curate import CurateResult, curate, write_curated
from fcot.formats import CompletionDataset, write_json
from fcot.resources import data_dir
from fcot.student import StudentConfig, train
from fcot.models.loading import default_student_dir

RESULTS = Path(__file__).parent / "results" / "train_throughput.json"
MODES = ("padded", "group_by_length", "packed")


def build_model(root: Path, layers: int, width: int) -> tuple[Path, int]:
    """A random-init GPT-2 with SmolLM2's tokenizer; returns its folder and its parameter count."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tokenizer = AutoTokenizer.from_pretrained(default_student_dir())
    torch.manual_seed(0)
    config = GPT2Config(n_layer=layers, n_embd=width, n_head=width // 64, n_positions=1024,
                        vocab_size=len(tokenizer), bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    return root / "model", sum(p.numel() for p in model.parameters())


def curated_samples(root: Path, n: int | None) -> tuple[Path, int]:
    """The first n (default all) curated MultiArith samples (train split, correct rationales) as a curated file."""
    cd = CompletionDataset.load(data_dir() / "completion_data/B_text-davinci-002__C_zs_cot/D_multiarith.json")
    result = curate(cd, "multiarith")
    samples = result.samples[:n]
    return write_curated(CurateResult(samples, result.stats, result.config), root / "F_multiarith.jsonl"), len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is steadiest on a shared machine)")
    parser.add_argument("--samples", type=int, default=192, help="curated samples trained on (0: all 332)")
    parser.add_argument("--rounds", type=int, default=2, help="repetitions of each mode; the best one counts")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    transformers.utils.logging.set_verbosity_error()

    peak = {"float32": round(common.matmul_gflops(torch.float32), 1), "bfloat16": round(common.matmul_gflops(torch.bfloat16), 1)}
    runs: dict[str, dict] = {}
    all_rounds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model, n_params = build_model(root, args.layers, args.width)
        data, n_samples = curated_samples(root, args.samples or None)
        for round_ in range(args.rounds):  # modes interleaved, best of rounds: other load only slows a run down
            for mode in MODES:
                config = StudentConfig(model=str(model), lora=False, epochs=1, batch_size=args.batch_size,
                                       batching=mode, val_fraction=0, learning_rate=1e-4, max_len=1024)
                start = time.perf_counter()
                result = train(config, data, root / f"{mode}-{round_}")
                run = {"tokens_per_s": round(result.tokens_per_s, 1), "real_tokens": result.real_tokens,
                       "padding_share": round(result.padding_share, 3), "steps": result.global_step,
                       "step_seconds": round(result.real_tokens / result.tokens_per_s, 2),
                       "call_seconds": round(time.perf_counter() - start, 2),
                       "first_loss": round(result.losses[0]["loss"], 4),
                       "last_loss": round(result.losses[-1]["loss"], 4)}
                print(f"round {round_} {mode:16s} {run['tokens_per_s']:9.1f} real tokens/s  ({run})", flush=True)
                all_rounds.setdefault(mode, []).append(run["tokens_per_s"])
                if run["tokens_per_s"] > runs.get(mode, {}).get("tokens_per_s", 0):
                    runs[mode] = run

    mean_len = runs["padded"]["real_tokens"] / n_samples
    attention = 12 * args.layers * args.width * mean_len  # per token: QK^T and AV, forward + backward
    flops_per_token = 6 * n_params + attention  # the tied 49k-vocab head counts once, as a matmul
    base = runs["padded"]["tokens_per_s"]
    for mode, run in runs.items():
        run["speedup_vs_padded"] = round(run["tokens_per_s"] / base, 3)
        run["achieved_gflops"] = round(run["tokens_per_s"] * flops_per_token / 1e9, 2)
        run["share_of_bf16_peak"] = round(run["achieved_gflops"] / peak["bfloat16"], 3)
        run["share_of_fp32_peak"] = round(run["achieved_gflops"] / peak["float32"], 3)
    report = {
        "hardware": common.hardware(),
        "model": {"kind": "gpt2", "layers": args.layers, "width": args.width, "params": n_params,
                  "tokenizer": "SmolLM2-135M-Instruct", "precision": "fp32", "fine_tuning": "full"},
        "data": {"task": "multiarith", "template": "ft_cot_token", "samples": n_samples,
                 "batch_size": args.batch_size, "mean_tokens_per_sample": round(mean_len, 1),
                 "baseline_order": "random (the Trainer default), padded to the longest sample of each batch"},
        "peak_matmul_gflops": peak,
        "flops_per_token": flops_per_token,
        "runs": runs,
        "tokens_per_s_each_round": all_rounds,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    write_json(args.out, report, indent=2)
    print(f"peak matmul GFLOP/s {peak}; wrote {args.out}")


if __name__ == "__main__":
    main()
