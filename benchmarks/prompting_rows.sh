#!/usr/bin/env bash
# The untrained student prompted with Zero-shot-CoT and Few-shot-CoT (the paper's prompting rows) on tasks whose
# Fine-tune-CoT runs are already measured; one torch thread, full test splits, the table's token budgets.
#   benchmarks/prompting_rows.sh multiarith coin_flip     ->  fcot-out/ten/prompting/<task>-<template>.json
# A row already written is kept; tracking_shuffled_objects has no few-shot exemplars (as in the paper), so no fs_cot.
set -euo pipefail
source "$(dirname "$0")/recipe.sh"
templates() { case $1 in tracking_shuffled_objects) echo zs_cot;; *) echo zs_cot fs_cot;; esac; }
mkdir -p fcot-out/ten/prompting
for task in "$@"; do
  for template in $(templates "$task"); do
    row=fcot-out/ten/prompting/$task-$template.json
    [ -s "$row" ] && continue
    OMP_NUM_THREADS=1 .venv/bin/fcot eval smollm2-135m-instruct --task "$task" --template "$template" --threads 1 \
      --max-new-tokens "$(tokens "$task")" --out fcot-out/ten/prompting --json > "$row.part"
    mv "$row.part" "$row"
  done
done
