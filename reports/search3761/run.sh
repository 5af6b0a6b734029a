#!/usr/bin/env bash
# Issue 42, item 2: the default search at 3,761 params (one under the public record), 80 minutes, one worker,
# one thread, its winner confirmed. It ran from a frozen clone outside the tree (--out outside, copied here);
# run from the repository root.
set -euo pipefail
OUT=${OUT:-runs/search3761}
budgetnet search --max-params 3761 --workers 1 --threads 1 --timeout 4800 --out "$OUT"
# (OUT's study, leaderboard, plots, best/ and summary copied here; confirm/spec.yaml is its best.yaml renamed
# general3761_searched) the winner on all 60,000 training images, fresh seeds 0-2
budgetnet confirm reports/search3761/confirm/spec.yaml --full-train --seed 0 --seed 1 --seed 2 --threads 1 \
    --out reports/search3761/confirm
# the median seed under other arithmetics: reports/spread/run.sh
budgetnet results
