"""The recipe's training engine: how a step is computed, not what it computes.

- `fast` (the default): dropout masks drawn from 16-bit words (budgetnet.model.fastdropout) and,
  for image models, activations and weights in channels-last memory format, which oneDNN's
  convolutions run faster on. `budgetnet bench step` measures each lever against plain PyTorch.
- `fast-bf16`: the fast engine with the forward pass under bf16 autocast (convolutions and
  matrix products in bfloat16, the rest in float32), where the device computes bf16 natively (a
  CPU with AVX512_BF16 or AMX, a GPU that supports it); elsewhere it would be slower, so the run
  is the fast engine's and records `fast`.
- `reference`: torch's own dropout masks (`bernoulli_`) and NCHW tensors, the arithmetic every
  run before the fast engine used. A model proven on it retrains on it bit for bit; its spec
  says `engine: reference`.

Both train the same model with the same recipe; their random streams and float rounding differ,
so one seed gives other (equally likely) weights on each."""
from __future__ import annotations

import torch
from torch import nn

from budgetnet.model import fastdropout

ENGINES = ("fast", "fast-bf16", "reference")


def prepare(model: nn.Module, engine: str, images: bool) -> torch.memory_format:
    """Set `model` up for `engine` in place; returns the memory format its input batches take."""
    fast = engine != "reference"
    for m in model.modules():
        if isinstance(m, fastdropout.Dropout):
            m.masks = "words" if fast else "bernoulli"
    fmt = torch.channels_last if fast and images else torch.contiguous_format
    model.to(memory_format=fmt)
    return fmt


def effective(engine: str, device: torch.device) -> str:
    """The engine a run gets on `device`: `fast-bf16` only where bf16 is native there."""
    return "fast" if engine == "fast-bf16" and not native_bf16(device) else engine


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def autocast(engine: str, device: torch.device):
    """The forward pass's precision context under `engine` (an effective one)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=engine == "fast-bf16")

