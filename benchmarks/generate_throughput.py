"""Student generation throughput: fcot's batched greedy decoding vs batch-1 fp32 `generate`, on real prompts.

    python benchmarks/generate_throughput.py [--baseline-n 20] [--n 128] [--batch-sizes 16,64,128]

Real SmolLM2-135M-Instruct, real MultiArith test questions (zs or ft_cot_token format), 64 new tokens, no stop
phrase (EOS only) so both sides do the same work. Answers are extracted with the paper's evaluator from text cut
at the template's stop phrase and compared with the fp32 batch-1 answers on the same prompts. Peak fp32/bf16
matmul throughput is measured in the same run. Writes benchmarks/results/generate_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import common  # benchmarks/common.py, beside this script

import torch

from fcot.evaluate import Evaluator
from fcot.formats import write_json
from fcot.precision import cpu_bf16_unit, resolve_precision
from fcot.models.generate import generate, trim_at_stop
from fcot.models.loading import DEFAULT_STUDENT, load_model
from fcot.tasks import get_task
from fcot.templates import format_input, get_template

RESULTS = Path(__file__).parent / "results" / "generate_throughput.json"


def peak_gflops(dtype: torch.dtype) -> float:
    """The machine's matmul limit in dtype: the best of a large square and a decoder-shaped product."""
    return max(common.matmul_gflops(dtype), common.matmul_gflops(dtype, 64, 576, 1536))


def hardware() -> dict:
    return {**common.hardware(), "native_bf16": cpu_bf16_unit()}


def answers(evaluator: Evaluator, texts: list[str], stop: tuple[str, ...]) -> list[str | None]:
    """The answer the paper's evaluator extracts from each text, cut at the stop phrase."""
    rows = [{"sample_index": i, "completion": trim_at_stop(t, stop)[0], "answer": ""} for i, t in enumerate(texts)]
    return [evaluator.check(row)["prediction"] for row in rows]


def baseline(loaded, prompts: list[str], max_new_tokens: int) -> tuple[list[str], int, float]:
    """Plain `model.generate`, one prompt at a time, fp32: texts, generated tokens, seconds."""
    tok, texts, tokens = loaded.tokenizer, [], 0
    eos = {tok.eos_token_id, tok.pad_token_id}
    start = time.perf_counter()
    for prompt in prompts:
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = loaded.model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                        pad_token_id=tok.pad_token_id)
        new = out[0, ids.input_ids.shape[1]:].tolist()
        new = new[:next((i for i, t in enumerate(new) if t in eos), len(new))]
        tokens += len(new)
        texts.append(tok.decode(new, skip_special_tokens=True))
    return texts, tokens, time.perf_counter() - start


def agreement(a: list, b: list) -> float:
    return sum(x == y for x, y in zip(a, b)) / min(len(a), len(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="multiarith")
    parser.add_argument("--template", default="zs", choices=["zs", "ft_cot_token"])
    parser.add_argument("--baseline-n", type=int, default=20, help="prompts for the batch-1 fp32 baseline")
    parser.add_argument("--n", type=int, default=128, help="prompts for each batched run (includes the baseline's)")
    parser.add_argument("--batch-sizes", default="16,64,128")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--precision", default="auto", help="precision of the batched runs: auto, fp32 or bf16")
    parser.add_argument("--bf16-check", type=int, default=0,
                        help="also generate the first N prompts in bf16 (batch 16) and compare answers with fp32 "
                             "(always done, with N = --baseline-n, when the CPU has native bf16)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    task = get_task(args.task)
    evaluator = Evaluator(task, args.template)
    stop = get_template(args.template).stop
    indices = task.load_split()["test"][: max(args.n, args.baseline_n)]
    prompts = [format_input(args.template, s, task=task) for s in task.load_dataset().select(indices)]
    result: dict = {"hardware": hardware(), "task": args.task, "template": args.template,
                    "max_new_tokens": args.max_new_tokens, "model": DEFAULT_STUDENT}
    peaks = {"float32": peak_gflops(torch.float32), "bfloat16": peak_gflops(torch.bfloat16)}
    result["peak_matmul_gflops"] = {k: round(v, 1) for k, v in peaks.items()}
    print("peak GFLOPS", result["peak_matmul_gflops"], flush=True)

    start = time.perf_counter()
    fp32 = load_model(DEFAULT_STUDENT, dtype="float32")
    result["load_seconds"] = round(time.perf_counter() - start, 2)
    params = sum(p.numel() for p in fp32.model.parameters())
    mean_ctx = sum(len(fp32.tokenizer(p).input_ids) for p in prompts) / len(prompts) + args.max_new_tokens / 2
    cfg = fp32.model.config
    flops_per_token = 2 * params + 4 * cfg.num_hidden_layers * mean_ctx * cfg.hidden_size  # weights + attention
    result["flops_per_token"] = flops_per_token

    base_texts, base_tokens, base_s = baseline(fp32, prompts[: args.baseline_n], args.max_new_tokens)
    base_answers = answers(evaluator, base_texts, stop)
    base_tps = base_tokens / base_s
    result["baseline"] = {"dtype": "float32", "batch_size": 1, "prompts": args.baseline_n, "tokens": base_tokens,
                          "seconds": round(base_s, 2), "tokens_per_s": round(base_tps, 2)}
    print("baseline", result["baseline"], flush=True)

    dtype = resolve_precision(args.precision, "cpu").torch_dtype  # matmul dtype; weights stay fp32 (autocast)
    runs, fp32_texts = [], None
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        outs, stats = generate(fp32.model, fp32.tokenizer, prompts[: args.n], max_new_tokens=args.max_new_tokens,
                               batch_size=batch_size, compute_dtype=dtype)
        texts = [o.text for o in outs]
        fp32_texts = texts if dtype == "float32" else fp32_texts
        run = {"dtype": dtype, "batch_size": batch_size, "prompts": args.n, "tokens": stats.new_tokens,
               "seconds": round(stats.seconds, 2), "tokens_per_s": round(stats.tokens_per_s, 2),
               "speedup_vs_baseline": round(stats.tokens_per_s / base_tps, 2),
               "share_of_peak": round(stats.tokens_per_s * flops_per_token / 1e9 / peaks[dtype], 4),
               "share_of_bf16_peak": round(stats.tokens_per_s * flops_per_token / 1e9 / peaks["bfloat16"], 4),
               "same_answer_as_baseline": agreement(answers(evaluator, texts, stop), base_answers),
               "same_text_as_baseline": agreement(texts, base_texts)}
        runs.append(run)
        print("batched", run, flush=True)
    result["batched"] = runs

    check_n = args.bf16_check or (args.n if dtype == "bfloat16" else 0)
    if check_n:  # bf16 matmuls (autocast) against fp32: batch-1 on the baseline prompts, batched on the rest
        if fp32_texts is None:
            outs, _ = generate(fp32.model, fp32.tokenizer, prompts[:check_n], max_new_tokens=args.max_new_tokens,
                               batch_size=16)
            fp32_texts = [o.text for o in outs]
        outs, stats = generate(fp32.model, fp32.tokenizer, prompts[:check_n], max_new_tokens=args.max_new_tokens,
                               batch_size=16, compute_dtype="bfloat16")
        bf16_answers = answers(evaluator, [o.text for o in outs], stop)
        result["bf16_check"] = {
            "prompts": check_n, "batch_size": 16, "mode": "autocast (fp32 weights, bf16 matmuls)",
            "tokens_per_s": round(stats.tokens_per_s, 2),
            "same_answer_as_fp32_batch1": agreement(bf16_answers, base_answers),
            "same_answer_as_fp32": agreement(bf16_answers, answers(evaluator, fp32_texts[:check_n], stop)),
            "same_text_as_fp32": agreement([o.text for o in outs], fp32_texts[:check_n])}
        print("bf16 check", result["bf16_check"], flush=True)

    best = max(runs, key=lambda r: r["tokens_per_s"])
    result["summary"] = {"best_batch_size": best["batch_size"], "best_tokens_per_s": best["tokens_per_s"],
                         "speedup_vs_batch1_fp32": best["speedup_vs_baseline"],
                         "same_answer_as_baseline": best["same_answer_as_baseline"], "target_speedup": 10,
                         "target_agreement": 0.98}
    write_json(args.out, result, indent=2)
    print(json.dumps(result["summary"]), f"-> {args.out}")


if __name__ == "__main__":
    main()
