#!/usr/bin/env bash
# The ten-task table (README "Student quality"): each bundled task with recorded teacher completions, the
# default recipe with the paper's rationales (no calculator annotation; see calculator_trained.sh), full test splits, zero-shot / Zero-shot-CoT / Few-shot-CoT prompting of the untrained student
# and vanilla fine-tuning at the same budget. One torch thread per run; run two of these lines side by side:
#   benchmarks/ten_tasks.sh addsub single_eq gsm8k      benchmarks/ten_tasks.sh aqua commonsense_qa
# SEED=1 benchmarks/ten_tasks.sh <task> runs the second seed (trained rows only: prompting the untrained student is
# greedy and does not depend on the seed). Results: fcot-out/ten/<task>[-seed1]/; re-running resumes,
# and <task>.time gathers /usr/bin/time -v of every invocation.
set -euo pipefail
source "$(dirname "$0")/recipe.sh"
seed=${SEED:-0}
baselines="zs, zs_cot, fs_cot, ft_token"; [ "$seed" = 0 ] || baselines="ft_token"
for task in "$@"; do
  name=$task; [ "$seed" = 0 ] || name=$task-seed$seed
  OMP_NUM_THREADS=1 /usr/bin/time -v -a -o "fcot-out/ten/$name.time" .venv/bin/fcot run --threads 1 \
    --set out=fcot-out/ten --set name="$name" --set "tasks=[$task]" --set student.seed="$seed" \
    --set student.epochs="$(epochs "$task")" --set eval.max_new_tokens="$(tokens "$task")" \
    --set curate.calculator=false --set "baselines=[$baselines]"
done
