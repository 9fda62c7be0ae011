#!/usr/bin/env bash
# "Calculator alone": the ten-task table's Fine-tune-CoT students (fcot-out/ten/<task>/runs/zs_cot[_choice]_<task>, made by
# benchmarks/ten_tasks.sh) answer the whole test split again with calculator decoding, same token budget, one thread;
# then the paired test against their plain answers.
#   benchmarks/calculator_rows.sh addsub single_eq gsm8k aqua  ->  fcot-out/ten/<task>/completion_data/..._C_<template>_calc/
set -euo pipefail
source "$(dirname "$0")/recipe.sh"
for task in "$@"; do
  run=fcot-out/ten/$task/runs/$(key "$task")_$task
  OMP_NUM_THREADS=1 .venv/bin/fcot eval "$run" --calculator --threads 1 --max-new-tokens "$(tokens "$task")" \
    --out "fcot-out/ten/$task" --json > "fcot-out/ten/$task/calculator.json"
  answers=completion_data/B_smollm2-135m-instruct__C_$(template "$task")
  file=F_$(key "$task")_${task}__D_$task.json
  .venv/bin/python benchmarks/paired.py "fcot-out/ten/$task/${answers}_calc/$file" "fcot-out/ten/$task/$answers/$file" \
    | tee "fcot-out/ten/$task/calculator_paired.txt"
done
