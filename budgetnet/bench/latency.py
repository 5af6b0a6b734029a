"""`budgetnet bench latency`: batch-1 CPU latency of a checkpoint in torch eager and of its
exported ONNX files in onnxruntime, measured in one run (a figure, never a rule)."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch

from budgetnet.export.onnx import Deployable, require_runtime
from budgetnet.training.checkpoint import load_checkpoint


def _median_ms(fn, runs: int, warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def latency(checkpoint: str | Path, exported: str | Path | None = None, runs: int = 200) -> dict:
    """Median milliseconds of one image through torch eager (one thread unless torch has more),
    and through EXPORTED/model.onnx and model_int8.onnx with onnxruntime where they exist."""
    network, ckpt = load_checkpoint(checkpoint, backend="torch")
    metrics = ckpt.get("metrics") or {}
    model = Deployable(network.eval(), metrics.get("mean", 0.0), metrics.get("std", 1.0)).eval()
    x = torch.rand(1, *network.spec.input)
    with torch.no_grad():
        out = {"model": network.spec.name, "runs": runs, "threads": torch.get_num_threads(),
               "torch_eager_ms": round(_median_ms(lambda: model(x), runs), 4)}
    if exported is not None:
        ort = require_runtime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        feed = x.numpy().astype(np.float32)
        for name, key in (("model.onnx", "onnxruntime_fp32_ms"), ("model_int8.onnx", "onnxruntime_int8_ms")):
            path = Path(exported) / name
            if path.is_file():
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                input_name = session.get_inputs()[0].name
                out[key] = round(_median_ms(lambda: session.run(None, {input_name: feed}), runs), 4)
    return out
