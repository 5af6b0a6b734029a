#!/usr/bin/env bash
# Accuracy of the fast engine against the reference engine: each model's recipe, 15 epochs on the
# 55,000 / 5,000 split, final-epoch validation accuracy, seeds 0..N-1 on each engine; two one-thread
# jobs at a time; resumable (a run with a checkpoint resumes). From the repository root:
#   bash reports/engine/run.sh RUNS_DIR [SEEDS_LEAN7K] [SEEDS_GENERAL4956]
#   ENGINES=fast-bf16 bash reports/engine/run.sh RUNS_DIR 3 0   # another engine's runs beside them
#   python reports/engine/summarize.py RUNS_DIR/out      # accuracy.json and the README's table
set -euo pipefail
runs=$(realpath -m "${1:?a folder outside the git tree}")
seeds7k=${2:-12}
seeds5k=${3:-3}
engines=${ENGINES:-fast reference}
mkdir -p "$runs"
python - "$runs" <<'PY'
import sys, yaml
for name, src in [("lean7k", "reports/lean7k/confirm/spec.yaml"),
                  ("general4956", "reports/search_power/5k/prior/confirm/spec.yaml")]:
    raw = yaml.safe_load(open(src))
    for engine in ("reference", "fast", "fast-bf16"):
        raw["train"]["engine"] = engine
        open(f"{sys.argv[1]}/{name}-{engine}.yaml", "w").write(yaml.safe_dump(raw, sort_keys=False))
PY
cd "$runs"
jobs=()
for s in $(seq 0 $((seeds7k - 1))); do for e in $engines; do jobs+=("lean7k-$e $s"); done; done
for s in $(seq 0 $((seeds5k - 1))); do for e in $engines; do jobs+=("general4956-$e $s"); done; done
run() {
  set -- $1
  [ -f "out/$1/seed$2/metrics.json" ] && return
  python -m budgetnet train "$1.yaml" --seed "$2" --threads 1 --out "out/$1/seed$2" \
    $( [ -f "out/$1/seed$2/checkpoint.pt" ] && echo --resume) > "log-$1-$2.txt" 2>&1
}
i=0
for j in "${jobs[@]}"; do
  run "$j" & i=$((i+1))
  if (( i % 2 == 0 )); then wait; fi
done
wait
