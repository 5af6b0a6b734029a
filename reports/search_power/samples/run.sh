#!/usr/bin/env bash
# Issue 27, lever 4: best_lean7k's recipe compressed to 5 epochs (275,000 samples on the 55,000-image
# training split), its own OneCycle against a linear decay to zero ("Budgeted Training", Li et al.
# 2020; 0.25 epochs of warm-up), three seeds each, one thread per process, the two side by side on
# the 2-core machine. Selection reads validation; test is reported, never used to choose.
set -euo pipefail
cd "$(dirname "$0")"
OMP_NUM_THREADS=1 budgetnet bench target best_lean7k --epochs 5 --seed 0 --seed 1 --seed 2 --limit 100000 --json > onecycle_5ep.json &
OMP_NUM_THREADS=1 budgetnet bench target linear.yaml --epochs 5 --seed 0 --seed 1 --seed 2 --limit 100000 --json > linear_5ep.json &
wait

# A later session (2-core Intel Xeon, frozen clone at fefed9f, nothing else running): the same at
# 3 epochs (165,000 samples), then lever 5 at 5 epochs: best_lean7k at its batch of 64 against
# batches of 128 at twice the peak learning rate (batch128.yaml; the linear scaling rule), which
# `bench step` measured at 1.22x the images per second.
OMP_NUM_THREADS=1 budgetnet bench target best_lean7k --epochs 3 --seed 0 --seed 1 --seed 2 --limit 100000 --json > onecycle_3ep.json &
OMP_NUM_THREADS=1 budgetnet bench target linear.yaml --epochs 3 --seed 0 --seed 1 --seed 2 --limit 100000 --json > linear_3ep.json &
wait
OMP_NUM_THREADS=1 budgetnet bench target best_lean7k --epochs 5 --seed 0 --seed 1 --seed 2 --limit 100000 --json > batch64_5ep.json &
OMP_NUM_THREADS=1 budgetnet bench target batch128.yaml --epochs 5 --seed 0 --seed 1 --seed 2 --limit 100000 --json > batch128_5ep.json &
wait

# The next session (same machine, frozen clone at 07476c1): the same at 8 epochs (440,000 samples).
# OneCycle started beside the last epochs of a kernel-spread run and linear when that run ended; a
# low-priority (`nice -n 19`) `budgetnet results` at 09:24-09:33 UTC and a 4-minute test run at 09:33-09:37
# shared the cores: their seconds are not quiet figures.
OMP_NUM_THREADS=1 budgetnet bench target best_lean7k --epochs 8 --seed 0 --seed 1 --seed 2 --limit 100000 --json > onecycle_8ep.json &
OMP_NUM_THREADS=1 budgetnet bench target linear.yaml --epochs 8 --seed 0 --seed 1 --seed 2 --limit 100000 --json > linear_8ep.json &
wait
