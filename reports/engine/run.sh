#!/usr/bin/env bash
# Accuracy of the fast engine against the reference engine: final-epoch validation (50,000/10,000
# split), 15 epochs, seeds 0-2, each model; two one-thread jobs at a time; resumable (--resume).
cd /work/runs/engine-acc
export PYTHONPATH=/work/runs/code-engine
PY=/work/main/.venv/bin/python
jobs=()
for m in lean7k general4956; do for s in 0 1 2; do for e in fast reference; do jobs+=("$m-$e $s"); done; done; done
run() { set -- $1; $PY -m budgetnet train "$1.yaml" --seed "$2" --threads 1 --out "out/$1/seed$2" $( [ -f "out/$1/seed$2/checkpoint.pt" ] && echo --resume) > "log-$1-$2.txt" 2>&1; }
i=0
for j in "${jobs[@]}"; do
  run "$j" & i=$((i+1))
  if (( i % 2 == 0 )); then wait; fi
done
wait
echo done > finished
