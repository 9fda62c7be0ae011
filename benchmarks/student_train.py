"""Training speed and memory on the real student: fcot's trainer now vs before (logits everywhere, adapter dropout).

    python benchmarks/student_train.py --threads 1 --samples 48 --steps 6

SmolLM2-135M-Instruct (the default student) is fine-tuned with LoRA (r16, lr 1e-3, batch 8) on curated
coin-flip samples (text-davinci-002 rationales, ft_cot_token). The trainers run one after another, each in its own
process so that peak memory is its own: `before` (batch 8 in one forward pass, the model's loss over the
49k-vocabulary head at every position, transformers' attention, LoRA dropout 0.05 and, in bf16, peft's cast of
each adapter's input to fp32: the trainer's earlier defaults), `now-batch8` (fcot's trainer still in one pass),
`now` (fcot's defaults: micro-batches of 4, the head and cross-entropy fused at label positions only, no adapter
dropout, and on CPU key/value heads shared inside SDPA and, in bf16, attention in fp32, adapter inputs left to the
autocast and the frozen head cast to bf16 once), `now-unfused` (the defaults with the model's own head and loss at
label positions), `now-plain-attention` (the defaults with transformers' attention call), `now-micro2` (micro-batches
of 2) and `now-ckpt` (the defaults plus activation checkpointing). All see the same 8 samples at each
optimizer step. Each runs in fp32 and, where the CPU has native bf16, in bf16; with `--repeats N`, N times in
alternating order, the fastest run counting (a shared or throttled core only ever slows a run). Reported: real
tokens/s of step time, the loss curve (same data order and seed), peak RSS, and the share of the matmul peak
measured in the same run. Writes benchmarks/results/student_train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import common  # benchmarks/common.py, beside this script

RESULTS = Path(__file__).parent / "results" / "student_train.json"
TRAINERS = ("before", "now-batch8", "now", "now-unfused", "now-plain-attention", "now-micro2", "now-ckpt")


def one_run(trainer: str, precision: str, samples: int, steps: int, threads: int) -> dict:
    """Train once in this process and return its figures (called in a child process)."""
    import contextlib

    import peft.helpers
    import torch
    import transformers

    import fcot.student.attention as attention_module
    import fcot.student.trainer as trainer_module
    from fcot.curate import CurateResult, curate, write_curated
    from fcot.formats import CompletionDataset
    from fcot.resources import data_dir
    from fcot.student import StudentConfig, train

    torch.set_num_threads(threads)
    transformers.utils.logging.set_verbosity_error()
    if trainer in ("before", "now-unfused"):  # the model's own head and loss: no fused cross-entropy
        trainer_module.fused_label_loss = lambda model: None
    if trainer == "before":  # the trainer as it was: the head over every position, peft's fp32 adapter inputs
        build = trainer_module.build_trainer

        def build_all_logits(*args, **kwargs):
            built = build(*args, **kwargs)
            built.label_logits_only = False
            return built

        trainer_module.build_trainer = build_all_logits
        peft.helpers.disable_input_dtype_casting = lambda model, active=True: contextlib.nullcontext()
    if trainer in ("before", "now-plain-attention"):  # transformers' SDPA call in the matmul precision
        attention_module.training_attention = lambda model, precision: contextlib.nullcontext()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cd = CompletionDataset.load(data_dir() / "completion_data/B_text-davinci-002__C_zs_cot/D_coin_flip.json")
        result = curate(cd, "coin_flip")
        data = write_curated(CurateResult(result.samples[:samples], result.stats, result.config), root / "F.jsonl")
        micro = {"before": 8, "now-batch8": 8, "now-micro2": 2}.get(trainer, StudentConfig().micro_batch_size)
        config = StudentConfig(max_steps=steps, batch_size=8, micro_batch_size=micro, learning_rate=1e-3,
                               val_fraction=0, precision=precision, warmup_ratio=0,
                               lora_dropout=0.05 if trainer == "before" else 0.0,
                               activation_checkpointing=trainer == "now-ckpt")
        run = train(config, data, root / "run")
    return {"tokens_per_s": round(run.tokens_per_s, 1), "real_tokens": run.real_tokens, "steps": run.global_step,
            "losses": [round(x["loss"], 4) for x in run.losses],
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=64, help="curated coin-flip samples (batch 8)")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per run")
    parser.add_argument("--trainers", nargs="+", choices=TRAINERS, default=list(TRAINERS),
                        help="which trainers to run (`before` always runs: the others are measured against it)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each trainer, in alternating order; the fastest counts (others' load only slows)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=2, metavar=("TRAINER", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(*args.child, args.samples, args.steps, args.threads)))
        return

    import torch

    from fcot.formats import write_json
    from fcot.precision import cpu_bf16_unit

    torch.set_num_threads(args.threads)
    peak = {"fp32": round(common.matmul_gflops(torch.float32), 1)}
    precisions = ["fp32"] + (["bf16"] if cpu_bf16_unit() or torch.cuda.is_available() else [])
    if "bf16" in precisions:
        peak["bf16"] = round(common.matmul_gflops(torch.bfloat16), 1)
    # useful work per token: the forward and the backward's input gradients through the 106M non-embedding weights
    # (LoRA computes no weight gradients for them); the vocabulary head and the adapters are left out
    flops_per_token = 4 * 106.2e6
    runs: dict[str, dict] = {}
    for precision in precisions:
        order = list(dict.fromkeys(["before", *args.trainers]))
        for repeat in range(args.repeats):  # each run in a fresh process: its own peak memory, no warm caches shared
            for trainer in order if repeat % 2 == 0 else order[::-1]:
                child = [sys.executable, __file__, "--child", trainer, precision, "--samples", str(args.samples),
                         "--steps", str(args.steps), "--threads", str(args.threads)]
                out = subprocess.run(child, capture_output=True, text=True, check=True,
                                     env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
                run = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{trainer:10s} {precision}: {run['tokens_per_s']:7.1f} tok/s  peak RSS {run['peak_rss_gb']} GB  "
                      f"loss {run['losses'][0]} -> {run['losses'][-1]}", flush=True)
                best = runs.setdefault(f"{trainer} {precision}", {**run, "tokens_per_s_runs": []})
                best["tokens_per_s_runs"].append(run["tokens_per_s"])
                best["tokens_per_s"] = max(best["tokens_per_s_runs"])
                best["peak_rss_gb"] = max(best["peak_rss_gb"], run["peak_rss_gb"])
        for trainer in order:
            run = runs[f"{trainer} {precision}"]
            run["share_of_peak"] = round(run["tokens_per_s"] * flops_per_token / 1e9 / peak[precision], 3)
    for name, new in runs.items():  # each trainer against `before` in its precision
        trainer, precision = name.split()
        if trainer == "before":
            continue
        base = runs[f"before {precision}"]
        new["speedup_vs_before"] = round(new["tokens_per_s"] / base["tokens_per_s"], 3)
        new["max_loss_difference"] = round(max(abs(a - b) for a, b in zip(base["losses"], new["losses"])), 4)
    report = {"hardware": common.hardware(), "peak_matmul_gflops": peak,
              "setup": {"model": "SmolLM2-135M-Instruct", "lora": "r16 all-linear", "batch_size": 8,
                        "samples": args.samples, "steps": args.steps, "task": "coin_flip", "threads": args.threads,
                        "repeats": args.repeats},
              "runs": runs, "command": " ".join(["python", "benchmarks/student_train.py", *sys.argv[1:]])}
    write_json(args.out, report, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
