#!/usr/bin/env bash
# The under-7K search behind reports/under7k (resumable: rerun to continue the same study).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$(dirname "$0")"
budgetnet search under7k --trials "${TRIALS:-8}" --out . --seed 0 --enqueue enqueue.yaml   # two hand-designed points, see the file
