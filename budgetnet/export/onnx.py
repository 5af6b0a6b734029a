"""`budgetnet export`: a checkpoint as an ONNX file a runtime loads, proven before it is written.

- fp32: torch's exporter (TorchScript-based: the dynamo exporter cannot trace the fast pool's
  custom autograd function), the training normalization baked in, so the file takes images as
  the data holds them (uint8 / 255, or the float images as given), batch dimension free. Its
  logits are checked against the PyTorch model on the whole test set of the data the checkpoint
  records, with onnxruntime: the largest absolute logit difference and the share of equal
  predictions. A file off by more than FP32_TOLERANCE is refused, and nothing is written.
- int8 (`int8=True`): static post-training quantization with onnxruntime (QDQ format, per-channel
  weights, calibrated on training images only: the first CALIBRATION_IMAGES of the training
  split). Its test accuracy is measured by onnxruntime, beside the fp32 one; an int8 model whose
  predictions differ from the fp32 model's on more than `max_disagreement` of the test images is
  refused.
- The record (`export.json`): sha256 of the checkpoint and of each file, versions, the data's
  fingerprint and every figure; `budgetnet check --verify-record export.json` re-hashes the files
  and re-measures the accuracies.

onnx, onnxruntime and onnxscript are the `export` extra: `pip install -e ".[export]"`.
"""
from __future__ import annotations

import importlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from budgetnet import atomic
from budgetnet.versions import versions
from budgetnet.data.datasets import Dataset, normalize
from budgetnet.compliance.inputs import sha256
from budgetnet.compliance.report import read_record
from budgetnet.errors import BudgetnetError, StorageError, describe_os_error
from budgetnet.training.checkpoint import load_checkpoint
from budgetnet.training.provenance import recorded_data

RECORD_FORMAT = "budgetnet-export/1"
FP32_TOLERANCE = 1e-3          # largest absolute logit difference an fp32 export may show
CALIBRATION_IMAGES = 1_000
OPSET = 17


class ExportError(BudgetnetError):
    """An export that cannot be made or does not prove out."""


def require_runtime():
    """onnx and onnxruntime, or a one-line hint (the export extra is optional)."""
    try:
        importlib.import_module("onnx")
        return importlib.import_module("onnxruntime")
    except ImportError:
        raise ExportError('export needs onnx and onnxruntime: pip install -e ".[export]"') from None


class Deployable(torch.nn.Module):
    """The trained network with its input normalization in front: what a runtime is given."""

    def __init__(self, network: torch.nn.Module, mean, std):
        super().__init__()
        self.network, self.mean, self.std = network, mean, std

    def forward(self, x):
        return self.network(normalize(x, self.mean, self.std))


@dataclass(frozen=True)
class Agreement:
    max_abs_diff: float
    agreement: float       # share of test images with the same prediction
    accuracy: float        # of the ONNX model on the test set

    def to_dict(self) -> dict:
        return {"max_abs_logit_diff": self.max_abs_diff, "prediction_agreement": self.agreement,
                "test_acc": self.accuracy}


def _onnx_logits(path: Path, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    ort = require_runtime()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # quiet: warnings about unused initializers are not ours
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])


def _compare(path: Path, x: np.ndarray, y: np.ndarray, reference: np.ndarray) -> Agreement:
    logits = _onnx_logits(path, x)
    predicted = logits.argmax(1)
    return Agreement(float(np.abs(logits - reference).max()), float((predicted == reference.argmax(1)).mean()),
                     float((predicted == y).mean()))


def _torch_logits(model: torch.nn.Module, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]).numpy()


def _export_fp32(model: Deployable, shape, path: Path) -> None:
    import warnings
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, *shape),), str(path), input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)


def _quantize(fp32: Path, out: Path, calibration: np.ndarray) -> None:
    import logging
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"image": calibration[i:i + 100]} for i in range(0, len(calibration), 100)])

        def get_next(self):
            return next(self.batches, None)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs per-tensor notes on the root logger
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prepared = Path(tmp) / "prepared.onnx"
            quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def export(checkpoint: str | Path, out: str | Path, int8: bool = False, data: str | None = None,
           max_disagreement: float = 0.01) -> dict:
    """Export, verify and record (see the module). Returns the record; writes OUT/model.onnx,
    OUT/model_int8.onnx (int8) and OUT/export.json, each only once it has proven out."""
    require_runtime()
    checkpoint, out = Path(checkpoint), Path(out)
    if out.exists() and not out.is_dir():
        raise StorageError(f"--out {out}: is a file, not a folder")
    network, ckpt = load_checkpoint(checkpoint, backend="torch")  # the same weights, torch's ops
    if network.spec.is_text:
        raise ExportError(f"{checkpoint}: {network.spec.name} is a text model; export writes image classifiers "
                          "(its verification and int8 calibration read images)")
    network.eval()
    metrics = ckpt.get("metrics") or {}
    dataset, notes = recorded_data(checkpoint, metrics, data)
    model = Deployable(network, metrics.get("mean", dataset.mean), metrics.get("std", dataset.std)).eval()
    x_test, y_test = dataset.test.x.numpy(), dataset.test.y.numpy()
    reference = _torch_logits(model, x_test)
    torch_acc = float((reference.argmax(1) == y_test).mean())
    record = {"format": RECORD_FORMAT, "checkpoint": {"path": str(checkpoint), "sha256": sha256(checkpoint)},
              "model": network.spec.name, "params": network.num_params(), "data": dataset.facts.to_dict(),
              "notes": notes, "torch_test_acc": torch_acc, "versions": _versions(), "files": {}}
    try:
        with tempfile.TemporaryDirectory(dir=_parent(out)) as tmp:  # nothing lands in OUT before it proves out
            fp32 = Path(tmp) / "model.onnx"
            try:
                _export_fp32(model, network.spec.input, fp32)
            except OSError:
                raise
            except Exception as e:  # the exporter's own errors are long; one line names the model
                raise ExportError(f"{checkpoint}: torch's ONNX exporter cannot express {network.spec.name}: "
                                  f"{type(e).__name__}: {str(e).splitlines()[0][:160]}") from None
            check = _compare(fp32, x_test, y_test, reference)
            if check.max_abs_diff > FP32_TOLERANCE:
                raise ExportError(f"{checkpoint}: the ONNX model's logits differ from PyTorch's by up to "
                                  f"{check.max_abs_diff:.2e} (> {FP32_TOLERANCE:g}); not written")
            record["fp32"] = check.to_dict() | {"bytes": fp32.stat().st_size}
            files = [(fp32, "model.onnx")]
            if int8:
                q = Path(tmp) / "model_int8.onnx"
                calibration = _calibration(dataset)
                _quantize(fp32, q, calibration)
                quantized = _compare(q, x_test, y_test, reference)
                if 1 - quantized.agreement > max_disagreement:
                    raise ExportError(f"{checkpoint}: int8 quantization changes {100 * (1 - quantized.agreement):.2f}% of "
                                      f"the test predictions (> {100 * max_disagreement:g}%); not written")
                record["int8"] = quantized.to_dict() | {"bytes": q.stat().st_size, "calibration_images": len(calibration),
                                                        "max_disagreement": max_disagreement}
                files.append((q, "model_int8.onnx"))
            for src, name in files:
                with atomic.atomic_path(out / name) as dst:
                    dst.write_bytes(src.read_bytes())
                record["files"][name] = {"path": str(out / name), "sha256": sha256(out / name)}
    except OSError as e:  # a full disk, a read-only or vanished folder: the temp folder is gone, OUT untouched
        raise StorageError(describe_os_error(e, "exporting to", out)) from None
    atomic.write_json(out / "export.json", record)
    return record


def _calibration(dataset: Dataset) -> np.ndarray:
    """Training images only (never the test set): the first CALIBRATION_IMAGES of the split."""
    return dataset.train.x[:CALIBRATION_IMAGES].numpy()


def verify(path: str | Path) -> tuple[int, list[str]]:
    """Re-hash an export record's files and re-measure its accuracies with onnxruntime.
    (exit code, lines): 0 the same, 1 something changed, 2 unreadable or missing."""
    record, why = read_record(path, RECORD_FORMAT, "export")
    if record is None:
        return 2, [why]
    code, lines = 0, []
    for name, f in {"checkpoint": record["checkpoint"], **record["files"]}.items():
        if not Path(f["path"]).is_file():
            return 2, lines + [f"MISSING {name}: {f['path']} is gone"]
        if sha256(Path(f["path"])) != f["sha256"]:
            code = 1
            lines.append(f"CHANGED {name}: {f['path']} no longer has sha256 {f['sha256'][:12]}...")
        else:
            lines.append(f"SAME {name}: sha256 {f['sha256'][:12]}...")
    if code:
        return code, lines
    network, ckpt = load_checkpoint(record["checkpoint"]["path"], backend="torch")
    dataset, _ = recorded_data(record["checkpoint"]["path"], ckpt.get("metrics") or {})
    x, y = dataset.test.x.numpy(), dataset.test.y.numpy()
    for kind, name in (("fp32", "model.onnx"), ("int8", "model_int8.onnx")):
        if kind not in record:
            continue
        acc = float((_onnx_logits(Path(record["files"][name]["path"]), x).argmax(1) == y).mean())
        same = abs(acc - record[kind]["test_acc"]) < 1e-9
        code = code if same else 1
        lines.append(f"{'SAME' if same else 'CHANGED'} {kind} test accuracy {100 * acc:.2f}% "
                     f"(recorded {100 * record[kind]['test_acc']:.2f}%)")
    return code, lines


def _parent(out: Path) -> Path:
    parent = out.parent if out.parent.exists() else Path(tempfile.gettempdir())
    return parent


def _versions() -> dict:
    import onnx
    import onnxruntime
    return versions(onnx=onnx.__version__, onnxruntime=onnxruntime.__version__)