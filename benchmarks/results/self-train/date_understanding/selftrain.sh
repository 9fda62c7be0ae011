#!/bin/bash
# Self-training round on date_understanding from the 4-epoch Fine-tune-CoT student's D=8 samples (see sample.sh)
set -e
cd /work/exp
OUT=/work/exp/self/date
FCOT="nice -n 5 /usr/bin/time -v python -m fcot"
export PYTHONPATH=<fcot checkout>/src OMP_NUM_THREADS=1
$FCOT curate date_understanding $OUT/completion_data/B_smollm2-135m-instruct__C_ft_cot_token_t70_d8/F_zs_cot_date_understanding__D_date_understanding.json --dedupe --out $OUT > logs/self_curate.log 2>&1
$FCOT train $OUT/finetune_data/P_decoder/F_zs_cot+ft_cot_token_t70_d8_date_understanding.jsonl --config quality/q_date_understanding/runs/zs_cot_date_understanding/fcot.yaml --epochs 2 --threads 1 --out $OUT/runs/zs_cot+ft_cot_token_t70_d8_date_understanding > logs/self_train.log 2>&1
$FCOT eval $OUT/runs/zs_cot+ft_cot_token_t70_d8_date_understanding --max-new-tokens 128 --threads 1 --out $OUT --json > logs/self_eval.log 2>&1
