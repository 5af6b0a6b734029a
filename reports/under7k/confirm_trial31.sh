#!/usr/bin/env bash
# Confirm trial 31 of the under7k study (trial31.yaml, 5,269 params, val 99.26%): seeds 0 1 2
# (or the given ones) in parallel, --full-train.
set -euo pipefail
cd "$(dirname "$0")"
exec ../confirm_seeds.sh trial31.yaml confirm_trial31 "$@"
