#!/usr/bin/env bash
# The under-4K lean-family search behind reports/lean4k (resumable: rerun to continue the study).
# One worker (one core), beside another search on the 2-core development machine.
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$(dirname "$0")"
budgetnet search lean4k --trials "${TRIALS:-8}" --timeout "${TIMEOUT:-2400}" --out . --seed 0
