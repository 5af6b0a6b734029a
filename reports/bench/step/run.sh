#!/usr/bin/env bash
# One training step of five models, every variant against plain PyTorch in interleaved rounds
# (budgetnet bench step), one thread, on a machine running nothing else. From the repository root:
#   bash reports/bench/step/run.sh
# Each JSON names its CPU; a run on another kind of CPU goes into a file of its own (-CPU suffix).
set -euo pipefail
cpu=${1:-epyc}
for spec in best_lean7k mnistnet3 reports/search_power/5k/prior/confirm/spec.yaml reports/unas/confirm/spec.yaml \
            reports/search4k/default/confirm/spec.yaml; do
  name=$(python -c "import sys; from budgetnet.spec.schema import load_spec; print(load_spec(sys.argv[1]).name)" "$spec")
  budgetnet bench step --spec "$spec" --threads 1 --out "reports/bench/step/${name}-${cpu}.json"
done
