#!/usr/bin/env bash
# The under-7K lean-family search behind reports/lean7k (resumable: rerun to continue the study).
# Two worker processes, one core each, on the 2-core development machine.
set -euo pipefail
cd "$(dirname "$0")"
budgetnet search lean7k --trials "${TRIALS:-16}" --timeout "${TIMEOUT:-3000}" --workers 2 --out . --seed 0 --enqueue enqueue.yaml   # hand-picked points, see the file
