#!/usr/bin/env bash
# The untrained student prompted with Zero-shot-CoT and Few-shot-CoT (the paper's prompting rows) on tasks whose
# Fine-tune-CoT runs are already measured; one torch thread, full test splits, the table's token budgets.
#   benchmarks/prompting_rows.sh multiarith coin_flip     ->  fcot-out/ten/prompting/<task>-<template>.json
set -euo pipefail
tokens() { case $1 in single_eq|addsub|multiarith|last_letter_concatenation|coin_flip) echo 128;; *) echo 160;; esac; }
mkdir -p fcot-out/ten/prompting
for task in "$@"; do
  for template in zs_cot fs_cot; do
    OMP_NUM_THREADS=1 .venv/bin/fcot eval smollm2-135m-instruct --task "$task" --template "$template" --threads 1 \
      --max-new-tokens "$(tokens "$task")" --out fcot-out/ten/prompting --json \
      > "fcot-out/ten/prompting/$task-$template.json"
  done
done
