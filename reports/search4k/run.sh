#!/usr/bin/env bash
# The default search at 3,999 params. default/ (issue 14) ran on the reference engine with the defaults of
# then (its command: default/command.txt); fast/ (issue 42, item 2) is today's defaults, 80 minutes, one
# worker, one thread, from a frozen clone outside the tree (--out outside, copied here). Run from the
# repository root.
set -euo pipefail
OUT=${OUT:-runs/search4k}
budgetnet search --max-params 3999 --workers 1 --threads 1 --timeout 4800 --out "$OUT"
# (OUT's study, leaderboard, plots, best/ and summary copied into fast/; fast/confirm/spec.yaml is its
# best.yaml renamed general4k_fast) the winner on all 60,000 training images, fresh seeds 0-2
budgetnet confirm reports/search4k/fast/confirm/spec.yaml --full-train --seed 0 --seed 1 --seed 2 --threads 1 \
    --out reports/search4k/fast/confirm
# the median seed under other arithmetics: reports/spread/run.sh
budgetnet results
