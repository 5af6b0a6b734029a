#!/usr/bin/env bash
# Confirm the under7k winner: train best.yaml from scratch with seeds 0, 1, 2 (fresh seeds, not
# the search trial's) and record each final-epoch test accuracy. Resumable.
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$(dirname "$0")"
for seed in ${SEEDS:-0 1 2}; do
  budgetnet confirm best.yaml --out confirm --seed "$seed"
done
