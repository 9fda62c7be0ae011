#!/bin/bash
# D=8 self-samples of the trained date-understanding student on its train split
cd /work/exp
PYTHONPATH=<fcot checkout>/src OMP_NUM_THREADS=1 nice -n 10 /usr/bin/time -v python -m fcot eval quality/q_date_understanding/runs/zs_cot_date_understanding --split train -D 8 --temperature 0.7 --threads 1 --batch-size 64 --out self/date > logs/self_sample_date.log 2>&1
