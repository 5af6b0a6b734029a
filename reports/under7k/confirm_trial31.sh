#!/usr/bin/env bash
# Confirm trial 31 of the under7k study (trial31.yaml, 5,269 params, val 99.26%): seeds 0 1 2
# (or --seed K ... given here), --full-train, two seeds at a time, one core each. Resumable.
set -euo pipefail
cd "$(dirname "$0")"
exec budgetnet confirm trial31.yaml --out confirm_trial31 --full-train --jobs 2 "$@"
