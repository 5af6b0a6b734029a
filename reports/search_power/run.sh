#!/usr/bin/env bash
# Issue 27's search-power benchmark, on a quiet 2-core machine (nothing else running), back to
# back: the default before issue 27 (rungs-v1: uniform random start-up, no cost-aware start), the
# new default (Sobol start-up, cost-aware first half hour), and the new default with the prior.
# Budget 6,999 params, floor 99.40% validation, no warm start, 30 minutes each (the issue asks
# 60: the session had 180 minutes in all). Resumable: a setup whose study exists in OUT is
# analysed, not rerun. Run from the repository root; the studies are then copied into
# reports/search_power/7k/ and the analysis below reads them there.
set -euo pipefail
OUT=${OUT:-runs/search_power/7k}
for setup in rungs-v1 default default-prior; do
    budgetnet bench search --setup "$setup" --max-params 6999 --timeout 1800 --no-warm-start --out "$OUT" --json
done
# the three in one list (analysis only: every study exists)
budgetnet bench search --setup rungs-v1 --setup default --setup default-prior --max-params 6999 --timeout 1800 \
    --no-warm-start --out reports/search_power/7k --json > reports/bench/search_7k.json
