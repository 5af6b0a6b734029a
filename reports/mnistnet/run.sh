#!/usr/bin/env bash
# Reproduce seed 004's MnistNet_1/2/3 with their own recipes (seed 0), as committed here.
# Resumable: rerun to continue; finished seeds are kept. Add --seed 1 --seed 2 for more seeds.
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one core per job: two jobs share two cores without oversubscription
cd "$(dirname "$0")"
for net in mnistnet1 mnistnet2 mnistnet3; do
  budgetnet confirm "$net" --out "$net" --seed 0
done
