"""What `budgetnet check` can read, reduced to the facts its rules need.

- a spec (YAML path or zoo name): everything, counted from the spec;
- `path/to/net.py:ClassName`: the user's `nn.Module` class, imported from its file (its folder
  first on sys.path, as pytest does) and built with `--kwargs`; counted by one forward pass on
  an `--input C,H,W` zero image (budgetnet.compliance.modelcount);
- a weights file: a budgetnet checkpoint (its embedded spec is counted), a `.pt`/`.pth`
  state_dict, or a `.safetensors` file. Without an architecture only parameters can be counted:
  every floating-point tensor is a parameter except buffers, told apart by name: BN running
  statistics (`running_mean`, `running_var`) and `num_batches_tracked`. Integer tensors are
  never parameters. MACs, receptive field and ops are then unknown.
Loading is safe: `torch.load(..., weights_only=True)`, safetensors never runs code. Importing a
Python class runs the user's own file, as their test suite would.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from budgetnet.errors import BudgetnetError, CheckpointError, short_repr

BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors")


class InputError(BudgetnetError):
    """An input `check` cannot read (missing file, import error, unknown class, bad weights)."""


@dataclass
class Facts:
    """What the rules look at; None means unknown for this kind of input."""
    kind: str                 # spec | class | checkpoint | state_dict | safetensors
    name: str
    params: int
    macs: int | None = None
    rf: int | None = None
    fc_params: int | None = None
    ops: Counter | None = None          # op name -> how many rows use it
    epochs: int | None = None
    files: list[str] = field(default_factory=list)   # every file the verdict depends on
    spec: object | None = None                       # the Spec, when there is one
    model: torch.nn.Module | None = None             # the built class, when there is one
    input_shape: tuple[int, ...] | None = None       # (C, H, W) a class was counted on
    model_bytes: dict | None = None                  # {"int8": B, "fp32": B} of the weights
    peak_bytes: dict | None = None                   # {"int8": B, "fp32": B} of live activations
    peak_at: str | None = None                       # the layer that sets the peak


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_class_ref(item: str) -> bool:
    path, _, cls = item.rpartition(":")
    return path.endswith(".py") and cls.isidentifier()


def is_weights(item: str) -> bool:
    return item.endswith(WEIGHT_SUFFIXES)


def spec_facts(spec) -> Facts:
    from budgetnet.model.compile import summarize

    s = summarize(spec)
    from budgetnet.spec.schema import zoo_path

    zoo = spec.origin.startswith("zoo:")
    files = [str(zoo_path(spec.origin[4:]))] if zoo else [spec.origin] if Path(spec.origin).is_file() else []
    m = s.memory
    return Facts("spec", spec.name, s.params, s.macs, s.rf, sum(r.params for r in s.rows if r.op == "linear"),
                 Counter(r.op for r in s.rows), spec.train.epochs, files=files, spec=spec,
                 model_bytes={"int8": m.int8_weight_bytes, "fp32": m.fp32_weight_bytes},
                 peak_bytes={"int8": m.peak_bytes("int8"), "fp32": m.peak_bytes("fp32")},
                 peak_at=f"layers[{m.peak_row}] ({s.rows[m.peak_row].op})")


def load_class(ref: str, kwargs: dict | None = None) -> torch.nn.Module:
    """`path/to/net.py:ClassName` -> an instance built with `kwargs`."""
    path_text, _, cls_name = ref.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise InputError(f"{ref}: no such file {path_text}")
    module_name = f"budgetnet_user_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as e:  # the user's code: any error is theirs, reported in one line
        raise InputError(f"{ref}: importing {path_text} failed: {type(e).__name__}: {short_repr(str(e))}") from None
    finally:
        sys.path.pop(0)
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        found = sorted(n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
                       and v.__module__ == module_name)
        raise InputError(f"{ref}: no nn.Module class {cls_name!r} in {path_text}"
                         + (f"; found {', '.join(found)}" if found else ""))
    try:
        return cls(**(kwargs or {}))
    except Exception as e:
        raise InputError(f"{ref}: {cls_name}(**{short_repr(kwargs or {})}) failed: {type(e).__name__}: "
                         f"{short_repr(str(e))}") from None


def class_facts(ref: str, input_shape: tuple[int, ...], kwargs: dict | None = None) -> Facts:
    from budgetnet.compliance.modelcount import count_module

    model = load_class(ref, kwargs)
    try:
        c = count_module(model, input_shape)
    except Exception as e:
        raise InputError(f"{ref}: forward pass on an input of shape {list(input_shape)} failed (set --input C,H,W): "
                         f"{type(e).__name__}: {short_repr(str(e))}") from None
    return Facts("class", ref.rpartition(":")[2], c.params, c.macs, c.rf, c.fc_params, None, None,
                 files=[ref.rpartition(":")[0]], model=model, input_shape=tuple(input_shape),
                 model_bytes={"int8": c.int8_weight_bytes, "fp32": 4 * c.params},
                 peak_bytes={"int8": c.peak_elements, "fp32": 4 * c.peak_elements}, peak_at=c.peak_layer)


def read_tensors(path: str | Path) -> tuple[str, dict[str, torch.Tensor], dict | None]:
    """(kind, tensors, checkpoint or None) of a weights file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return "safetensors", load_file(str(path)), None
        except (SafetensorError, OSError, ValueError) as e:
            raise InputError(f"{path}: not a readable safetensors file: {short_repr(str(e))}") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for corrupt or unsafe files
        raise InputError(f"{path}: not a readable weights file (weights_only=True): "
                         f"{short_repr(str(e).splitlines()[0] if str(e) else type(e).__name__)}") from None
    if isinstance(obj, dict) and obj.get("format", "").startswith("budgetnet-checkpoint"):
        return "checkpoint", obj.get("state_dict") or {}, obj
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # the common {"state_dict": ...} wrapping
    if not (isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values())):
        raise InputError(f"{path}: not a state_dict (a mapping of names to tensors)")
    return "state_dict", obj, None


def parameter_elements(tensors: dict[str, torch.Tensor]) -> int:
    """Elements of the parameters by the README's rule: buffers (by name) and integer tensors are not."""
    return sum(t.numel() for key, t in tensors.items() if t.is_floating_point() and not key.endswith(BUFFER_SUFFIXES))


def weights_facts(path: str) -> Facts:
    kind, tensors, ckpt = read_tensors(path)
    if ckpt is not None:  # a budgetnet checkpoint: its spec says everything
        from budgetnet.errors import SpecError
        from budgetnet.spec.schema import load_spec
        try:
            facts = spec_facts(load_spec(ckpt["spec"]))
        except SpecError as e:
            raise CheckpointError(f"{path}: its embedded spec is invalid: {e.issues[0].line('spec')}") from None
        facts.kind, facts.files = "checkpoint", [path]
        return facts
    return Facts(kind, Path(path).name, parameter_elements(tensors), files=[path])


def parse_kwargs(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"--kwargs: not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(value, dict):
        raise InputError("--kwargs: must be a JSON object, e.g. '{\"width\": 8}'")
    return value


def parse_input_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(x) for x in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(n < 1 for n in shape):
        raise InputError(f"--input: expected C,H,W as positive integers, got {short_repr(text)}")
    return shape
