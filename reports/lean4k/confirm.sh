#!/usr/bin/env bash
# Confirm the lean4k winner (best.yaml): seeds 0 1 2 (or --seed K ... given here), --full-train,
# two seeds at a time, one core each. Resumable.
set -euo pipefail
cd "$(dirname "$0")"
exec budgetnet confirm best.yaml --out confirm --full-train --jobs 2 "$@"
