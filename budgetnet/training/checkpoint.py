"""Checkpoints: the spec, the weights and the metrics in one file, loadable with
`torch.load(..., weights_only=True)`; a checkpoint is always checked against its spec."""
from __future__ import annotations

from pathlib import Path

import torch

from budgetnet import atomic
from budgetnet.model.compile import Network, build
from budgetnet.errors import CheckpointError, SpecError
from budgetnet.spec.schema import Spec, load_spec

FORMAT = "budgetnet-checkpoint/1"


def save_checkpoint(path: str | Path, model: Network, metrics: dict | None = None, resume: dict | None = None) -> None:
    atomic.torch_save({"format": FORMAT, "spec": model.spec.to_dict(), "state_dict": model.state_dict(),
                       "metrics": metrics or {}, "resume": resume}, path)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # an untrusted file: the unpickler fails in many ways (a few text bytes: KeyError)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {first[:120]}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a budgetnet checkpoint (no '{FORMAT}' format tag)")
    return ckpt


def load_checkpoint(path: str | Path, expected: Spec | None = None, backend: str | None = None) -> tuple[Network, dict]:
    """Rebuild the checkpoint's model and load its weights. With `expected`, refuse a checkpoint
    whose spec differs from it (layers, input, classes)."""
    ckpt = read_checkpoint(path)
    try:
        spec = load_spec(ckpt["spec"])
    except SpecError as e:
        raise CheckpointError(f"{path}: its embedded spec is invalid: {e.issues[0].line('spec')}") from None
    if expected is not None and _architecture(expected) != _architecture(spec):
        raise CheckpointError(f"{path}: checkpoint is for spec {spec.name!r} with a different architecture "
                              f"than {expected.name!r} ({expected.origin})")
    model = build(spec, backend=backend)
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: no state_dict")
    ours = model.state_dict()
    missing, extra = sorted(set(ours) - set(state)), sorted(set(state) - set(ours))
    if missing or extra:
        raise CheckpointError(f"{path}: weights do not match the spec (missing {missing[:3]}, unexpected {extra[:3]})")
    for key, tensor in ours.items():
        if not isinstance(state[key], torch.Tensor) or state[key].shape != tensor.shape:
            got = getattr(state[key], "shape", type(state[key]).__name__)
            raise CheckpointError(f"{path}: weight {key} has shape {list(got)} but the spec needs {list(tensor.shape)}")
    model.load_state_dict(state)
    return model, ckpt


def _architecture(spec: Spec) -> tuple:
    return spec.input, spec.classes, tuple((layer.op, layer.args) for layer in spec.layers)
