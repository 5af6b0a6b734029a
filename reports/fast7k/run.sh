#!/usr/bin/env bash
# The time-to-target search (4 epochs at most) behind reports/fast7k (resumable: rerun to continue the study).
# One worker (one core); no pruning: a trial is 4 epochs at most.
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$(dirname "$0")"
budgetnet search fast7k --trials "${TRIALS:-10}" --pruner none --out . --seed 0
