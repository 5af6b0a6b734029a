#!/usr/bin/env bash
# The kernel spread of the models CI retrains: their median confirmation seed, trained on all
# 60,000 images under each kernel setting (one thread; two settings at a time, one per core).
# Resumable: a finished setting is kept, so rerunning this regenerates spread.json / spread.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
budgetnet spread reports/lean7k/confirm/spec.yaml --seed 1 --full-train --jobs 2 --out reports/spread/best_lean7k/seed1 \
    --setting default --setting aten-avx2 --setting onednn-avx2 --setting portable
budgetnet spread reports/frontier/best_5k/spec.yaml --seed 0 --full-train --jobs 2 --out reports/spread/best_5k/seed0 \
    --setting default --setting aten-avx2
budgetnet results
