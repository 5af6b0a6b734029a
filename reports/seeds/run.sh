#!/bin/bash
# Reference runs of every zoo model of seeds 000-004 with its seed's recipe (issue #16), on all
# 60,000 training images, one job per core (OMP_NUM_THREADS=1). Rerun to resume: finished runs are
# kept, an interrupted one continues from its last checkpoint (every epoch and every 10 minutes). The runs were made in a folder
# outside the git tree and copied here when finished (a live run's files are never replaced).
set -e
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1   # or --threads 1 on each command
for m in mnistnet1 mnistnet2 mnistnet3; do          # seed 004: three seeds each
  budgetnet confirm $m --out $m --full-train --seed 0 --seed 1 --seed 2
done
for m in cnn_002 cnn_000 cnn_001 cnn_003 vit_003 deep_cnn_003 transformer_000 transformer_000_rows transformer_001; do
  [ -f $m/metrics.json ] && continue
  if [ -f $m/checkpoint.pt ]; then r=--resume; else r=; fi
  budgetnet train $m --out $m --full-train $r
done
# seed 002's text model: the embedded tinyshakespeare's fixed 90/5/5 split (a text run has no
# --full-train), then a sample of its text
[ -f transformer_002/metrics.json ] || budgetnet train transformer_002 --out transformer_002
budgetnet sample transformer_002/checkpoint.pt --chars 500 --seed 0 --prompt "ROMEO:" > transformer_002/sample.txt
# the from-scratch layers against torch on the same specs (a short benchmark, same run)
for m in cnn_000 cnn_001 cnn_002 transformer_000; do
  budgetnet bench backends --spec $m --batch 32 --json > bench_backends_$m.json
done
budgetnet bench backends --spec transformer_000 --batch 256 --seconds 20 --json > bench_backends_transformer_000_b256.json
for m in transformer_000_rows transformer_001; do
  budgetnet bench backends --spec $m --batch 128 --seconds 5 --json > bench_backends_$m.json
done
budgetnet bench backends --spec transformer_002 --batch 64 --seconds 5 --json > bench_backends_transformer_002.json
budgetnet compare . --out . --title "The seeds' reference models on budgetnet (60,000 training images, final-epoch test)" \
  --expect cnn_000 --expect cnn_001 --expect cnn_002 --expect transformer_000 --expect cnn_003 \
  --expect deep_cnn_003 --expect vit_003 --expect mnistnet1 --expect mnistnet2 --expect mnistnet3 \
  --expect transformer_000_rows --expect transformer_001 --expect transformer_002
