#!/usr/bin/env bash
# Issue 42, item 2: the default search at 2,999 params (90 minutes, one worker, one thread), its winner
# confirmed, and the winner's point filled to the public record's budget (3,761) and confirmed the same way.
# It ran from a frozen clone outside the tree (--out outside, copied here); run from the repository root.
set -euo pipefail
OUT=${OUT:-runs/search3k}
budgetnet search --max-params 2999 --workers 1 --threads 1 --timeout 5400 --out "$OUT"
# (OUT's study, leaderboard, plots, best/ and summary copied into reports/search3k; confirm/spec.yaml is its
# best.yaml renamed general3k) the winner on all 60,000 training images, fresh seeds 0-2
budgetnet confirm reports/search3k/confirm/spec.yaml --full-train --seed 0 --seed 1 --seed 2 --threads 1 \
    --out reports/search3k/confirm
# trial 76's point filled by the general family to 3,761 params (3,708: the widths' granularity)
python reports/search3k/refill.py reports/search3k/study.db 76 3761 general3761 reports/search3k/refill/spec.yaml
budgetnet confirm reports/search3k/refill/spec.yaml --full-train --seed 0 --seed 1 --seed 2 --threads 1 \
    --out reports/search3k/refill/confirm
# the median seeds under other arithmetics: reports/spread/run.sh
budgetnet results
# three more fresh seeds of general3761, run after the claim to test it (kept as metrics.json only, so that
# the results table still lists the confirmation of seeds 0-2)
budgetnet confirm reports/search3k/refill/confirm/spec.yaml --full-train --seed 3 --seed 4 --seed 5 --jobs 2 --out runs/general3761_more
for s in 3 4 5; do mkdir -p reports/search3k/refill/more_seeds/seed$s; cp runs/general3761_more/seed$s/metrics.json reports/search3k/refill/more_seeds/seed$s/; done
# distillation from a 20,000-param teacher (the winner's point filled to 20,000), measured on trial 76's own seed
python reports/search3k/refill.py reports/search3k/study.db 76 20000 teacher20k runs/teacher20k.yaml
budgetnet train runs/teacher20k.yaml --seed 0 --threads 1 --out reports/search3k/distill/teacher
budgetnet train reports/search3k/distill/t4_alpha05/spec.yaml --seed 75 --threads 1 --out runs/distill_t4
budgetnet train reports/search3k/distill/t2_alpha03/spec.yaml --seed 75 --threads 1 --out runs/distill_t2
