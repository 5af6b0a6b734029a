#!/usr/bin/env bash
# Confirm the lean8k winner (best.yaml): seeds 0 1 2 (or the given ones) in parallel, --full-train.
set -euo pipefail
cd "$(dirname "$0")"
exec ../confirm_seeds.sh best.yaml confirm "$@"
