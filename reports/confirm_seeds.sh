#!/usr/bin/env bash
# usage: reports/confirm_seeds.sh SPEC OUT [SEED ...]
# Confirm SPEC under the final-model protocol: trained from scratch on all 60,000 training images
# (spec and recipe were selected on the validation split), once per seed (default 0 1 2, fresh
# seeds, not the search trial's), one core each, the seeds in parallel; then OUT/confirm.json
# gathers every finished seed with its final-epoch test accuracy. Resumable.
set -euo pipefail
export OMP_NUM_THREADS=1
spec=$1 out=$2
shift 2
pids=()
for seed in ${@:-0 1 2}; do
  budgetnet confirm "$spec" --out "$out" --seed "$seed" --full-train &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
budgetnet confirm "$spec" --out "$out" --seed "${1:-0}" --full-train   # finished: gathers every seed
