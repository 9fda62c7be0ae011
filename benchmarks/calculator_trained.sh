#!/usr/bin/env bash
# The "Fine-tune-CoT + calculator" rows: the ten-task recipe (benchmarks/ten_tasks.sh: same epochs, token budget and
# seed) with rationales annotated for a calculator (curate.calculator) and answers decoded with it; the plain rows
# are in benchmarks/results/ten-tasks/. One torch thread per run:
#   benchmarks/calculator_trained.sh multiarith addsub      SEED=1 benchmarks/calculator_trained.sh multiarith
# Results: fcot-out/ten/<task>-calc[-seed1]/; re-running resumes, <name>.time gathers /usr/bin/time -v.
set -euo pipefail
source "$(dirname "$0")/recipe.sh"
seed=${SEED:-0}
for task in "$@"; do
  name=$task-calc; [ "$seed" = 0 ] || name=$name-seed$seed
  OMP_NUM_THREADS=1 /usr/bin/time -v -a -o "fcot-out/ten/$name.time" .venv/bin/fcot run --threads 1 \
    --set out=fcot-out/ten --set name="$name" --set "tasks=[$task]" --set student.seed="$seed" \
    --set student.epochs="$(epochs "$task")" --set eval.max_new_tokens="$(tokens "$task")" \
    --set curate.calculator=true --set "baselines=[]"
done
