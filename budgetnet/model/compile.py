"""Spec -> per-layer accounting (shapes, params, MACs, receptive field) and -> nn.Module."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Union

import torch
from torch import nn

from budgetnet.model.backends import BACKENDS
from budgetnet.errors import Issue, SpecError
from budgetnet.model.init import initialize
from budgetnet.model.memory import Memory, memory
from budgetnet.spec.shapes import infer
from budgetnet.spec.schema import Spec, load_spec


@dataclass(frozen=True)
class Row:
    index: int
    op: str
    args: dict
    out_shape: tuple[int, ...]
    params: int
    macs: int
    rf: int
    jump: int
    act_in: int = 0      # activation elements in and out at batch 1 (= int8 bytes; x4 for fp32)
    act_out: int = 0
    live: int = 0        # elements held while the row runs (budgetnet.model.memory)
    int8_weight_bytes: int = 0


@dataclass(frozen=True)
class Summary:
    name: str
    input: tuple[int, ...]
    rows: tuple[Row, ...]
    params: int
    macs: int
    rf: int
    memory: Memory | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name, "input": list(self.input), "params": self.params, "macs": self.macs,
            "rf": self.rf, **(self.memory.to_dict() if self.memory else {}),
            "layers": [{"index": r.index, "op": r.op, "args": r.args, "out_shape": list(r.out_shape),
                        "params": r.params, "macs": r.macs, "rf": r.rf, "jump": r.jump,
                        "act_in_elements": r.act_in, "act_out_elements": r.act_out, "live_elements": r.live,
                        "int8_weight_bytes": r.int8_weight_bytes} for r in self.rows],
        }


def summarize(x: Union[str, Mapping, Spec]) -> Summary:
    spec = load_spec(x)
    layers = infer(spec)
    mem = memory(spec, layers)
    rows = tuple(
        Row(i, layer.op, layer.args.model_dump(exclude_defaults=True), info.out.shape, info.params,
            info.macs, info.out.rf, info.out.jump, m.in_elements, m.out_elements, m.live_elements,
            m.int8_weight_bytes)
        for i, ((layer, info), m) in enumerate(zip(layers, mem.rows))
    )
    return Summary(spec.name, spec.input, rows, sum(r.params for r in rows), sum(r.macs for r in rows),
                   rows[-1].rf, mem)


def example_input(spec: Spec, batch: int = 1, dtype: torch.dtype = torch.float32,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """A random batch the spec's network takes: images (B, C, H, W) of `dtype`, or token ids (B, T)."""
    if spec.is_text:
        return torch.randint(0, spec.vocab, (batch, *spec.input), generator=generator)
    return torch.randn(batch, *spec.input, dtype=dtype, generator=generator)


def count_params(x: Union[str, Mapping, Spec]) -> int:
    """Exact trainable-parameter count from the spec alone; nothing is built."""
    return sum(info.params for _, info in infer(load_spec(x)))


class Network(nn.Sequential):
    """The compiled model: a Sequential of the spec's layers, plus the spec it came from."""

    def __init__(self, modules: list[nn.Module], spec: Spec):
        super().__init__(*modules)
        self.spec = spec

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def build(x: Union[str, Mapping, Spec], backend: str | None = None, seed: int | None = None) -> Network:
    """Compile a spec onto a backend (`torch` or `custom`; default: the spec's own).

    Weights are initialised by the spec's `init` scheme in module order, so the same seed gives
    identical weights on either backend. The model is on the CPU; move it with `.to(device)`.
    """
    spec = load_spec(x)
    kit = BACKENDS[backend or spec.backend] if (backend or spec.backend) in BACKENDS else None
    if kit is None:
        raise SpecError(spec.origin, [Issue(("backend",), f"unknown backend {backend!r}; use torch or custom")])
    if seed is not None:
        torch.manual_seed(seed)
    modules = [info.make(kit) for _, info in infer(spec)]
    return initialize(Network(modules, spec), spec.init)


