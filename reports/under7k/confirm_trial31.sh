#!/usr/bin/env bash
# Confirm trial 31, the under7k study's best validation trial after 34 samples (5,269 params, val
# 99.26%), under the final-model protocol: trained from scratch on all 60,000 training images
# with seeds 0, 1, 2 (fresh seeds), each final-epoch test accuracy recorded. One core per seed;
# seeds given as arguments run in parallel (default: all three). Resumable.
set -euo pipefail
export OMP_NUM_THREADS=1
cd "$(dirname "$0")"
for seed in ${@:-0 1 2}; do
  budgetnet confirm trial31.yaml --out confirm_trial31 --seed "$seed" --full-train &
done
wait
budgetnet confirm trial31.yaml --out confirm_trial31 --seed 0 --full-train   # gathers every finished seed
