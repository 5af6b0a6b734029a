#!/usr/bin/env bash
# Reproduce seed 004's MnistNet_1/2/3 with their own recipes (one seed each), as committed here.
# Each `budgetnet train` resumes if interrupted (rerun this script).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one core per job: two jobs share two cores without oversubscription
cd "$(dirname "$0")"
for net in mnistnet1 mnistnet2 mnistnet3; do
  if [ -f "$net/metrics.json" ]; then continue; fi
  resume=""; [ -f "$net/checkpoint.pt" ] && resume="--resume"
  budgetnet train "$net" --out "$net" --seed 0 $resume
done
