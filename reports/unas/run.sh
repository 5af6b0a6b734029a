#!/usr/bin/env bash
# The deployment frontier (issue #25): a CNN within uNAS's MNIST bounds (int8 weights <= 4,500 B,
# peak activations <= 2,500 B at batch 1, our stricter count with the input), its int8 accuracy
# proven by onnxruntime. Resumable: every step keeps what is finished. The search ran outside the
# git tree (two worker processes, one core each) and was copied into search/ when it finished.
set -euo pipefail
cd "$(dirname "$0")"
# 1. the search: the unas template (budgetnet/search/searches/unas.yaml), references first, 35 minutes
budgetnet search unas --out search --workers 2 --threads 1 --timeout 2100
# 2. its winner (highest validation accuracy, budgetnet/zoo/best_unas.yaml) on all 60,000 training
#    images with seeds 0, 1, 2
budgetnet confirm best_unas --out confirm --full-train
# 3. every seed exported from the repository root (the record's paths are the repository's): ONNX
#    fp32 and int8 (QDQ, per-channel weights, calibrated on 1,000 training images), each verified on
#    the 10,000 test images by onnxruntime before it is written
cd ../..
for s in 0 1 2; do
  [ -f reports/unas/confirm/seed$s/export/export.json ] ||
    budgetnet export reports/unas/confirm/seed$s/checkpoint.pt --out reports/unas/confirm/seed$s/export --int8
done
# 4. what a device holds, counted from the spec, and the batch-1 latency of the median seed
budgetnet summary best_unas --json > reports/unas/summary.json
budgetnet check best_unas --max-model-bytes 4500 --max-peak-activation-bytes 2500 --format json > reports/unas/check.json
budgetnet results
# 5. issue 42: the default search (the general family) under the same bounds, 90 minutes, one worker and one
#    thread, from a frozen clone outside the tree (copied into general/); its winner confirmed as general_unas
#    and every seed exported the same way
budgetnet search --max-flash 4500 --max-ram 2500 --workers 1 --threads 1 --timeout 5400 --out general
# (general/confirm/spec.yaml is general/best.yaml renamed general_unas)
budgetnet confirm general/confirm/spec.yaml --full-train --seed 0 --seed 1 --seed 2 --threads 1 --out general/confirm
cd ../..
for s in 0 1 2; do
  [ -f reports/unas/general/confirm/seed$s/export/export.json ] ||
    budgetnet export reports/unas/general/confirm/seed$s/checkpoint.pt --out reports/unas/general/confirm/seed$s/export --int8
done
budgetnet results
