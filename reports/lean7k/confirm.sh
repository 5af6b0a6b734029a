#!/usr/bin/env bash
# Confirm the lean7k winner: train best.yaml from scratch on all 60,000 training images (the
# final-model protocol: spec and recipe were selected on the validation split) with seeds 0, 1, 2
# (fresh seeds, not the search trial's) and record each final-epoch test accuracy. One core per
# seed; seeds given as arguments run in parallel (default: all three). Resumable.
set -euo pipefail
export OMP_NUM_THREADS=1
cd "$(dirname "$0")"
for seed in ${@:-0 1 2}; do
  budgetnet confirm best.yaml --out confirm --seed "$seed" --full-train &
done
wait
budgetnet confirm best.yaml --out confirm --seed 0 --full-train   # gathers every finished seed
