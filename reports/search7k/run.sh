#!/usr/bin/env bash
# The search-power benchmark of issue 13, on a quiet 2-core machine (nothing else running):
# each setup searches for a model under 7,000 parameters (params <= 6,999) for 30 minutes of
# wall time, back to back, from nothing (no warm start for the general family; lean7k runs as
# it always did, its three hand-picked references first). Resumable: a setup whose study exists
# in OUT is analysed, not rerun. Run from the repository root.
set -euo pipefail
OUT=${OUT:-runs/search7k}
budgetnet bench search --setup default --setup lean7k --max-params 6999 --timeout 1800 --no-warm-start \
    --out "$OUT" --json | tee "$OUT/search_7k.json"
# fidelity alone: the same general family, the per-epoch quartile pruner instead of the rungs
budgetnet bench search --setup general-quartile --max-params 6999 --timeout 1800 --no-warm-start \
    --out "$OUT" --json | tee "$OUT/search_7k_quartile.json"
# the three setups in one list (analysis only, over the studies once copied into reports/search7k)
budgetnet bench search --setup default --setup lean7k --setup general-quartile --max-params 6999 \
    --out reports/search7k --json > reports/search7k/search_7k.json
# trials per hour: a worker per core against one worker with both threads
budgetnet bench workers --json | tee "$OUT/workers.json"
