#!/usr/bin/env bash
# Copy what a finished `fcot run` measured (no model weights) into benchmarks/results:
#   benchmarks/collect_run.sh fcot-out/ten/aqua benchmarks/results/ten-tasks/aqua [fcot-out/ten/aqua.time]
# Kept: the config, results and report, each student's train_metrics (and learning curve), the test answers
# in the paper's completion_data/ layout, and /usr/bin/time -v of the run when given.
set -euo pipefail
run=$1 dest=$2
mkdir -p "$dest"
cp "$run/fcot.yaml" "$run/results.json" "$dest/"
cp -r "$run/report/." "$dest/"
for student in "$run"/runs/*/; do
  name=$(basename "$student")
  [ -f "$student/train_metrics.json" ] && cp "$student/train_metrics.json" "$dest/train_metrics_$name.json"
  [ -f "$student/train_curve.png" ] && cp "$student/train_curve.png" "$dest/train_curve_$name.png"
done
find "$run/completion_data" -name '*.json' -path '*B_smollm2*' | while read -r f; do
  rel=${f#"$run/"}; mkdir -p "$dest/$(dirname "$rel")"; cp "$f" "$dest/$rel"
done
[ $# -lt 3 ] || cp "$3" "$dest/time.txt"
