"""The recipe's training engine: how a step is computed, not what it computes.

- `fast` (the default): dropout masks drawn from 16-bit words (budgetnet.model.fastdropout) and,
  for image models, activations and weights in channels-last memory format, which oneDNN's
  convolutions run faster on. `budgetnet bench step` measures each lever against plain PyTorch.
- `reference`: torch's own dropout masks (`bernoulli_`) and NCHW tensors, the arithmetic every
  run before the fast engine used. A model proven on it retrains on it bit for bit; its spec
  says `engine: reference`.

Both train the same model with the same recipe; their random streams and float rounding differ,
so one seed gives other (equally likely) weights on each."""
from __future__ import annotations

import torch
from torch import nn

from budgetnet.model import fastdropout

ENGINES = ("fast", "reference")


def prepare(model: nn.Module, engine: str, images: bool) -> torch.memory_format:
    """Set `model` up for `engine` in place; returns the memory format its input batches take."""
    fast = engine == "fast"
    for m in model.modules():
        if isinstance(m, fastdropout.Dropout):
            m.masks = "words" if fast else "bernoulli"
    fmt = torch.channels_last if fast and images else torch.contiguous_format
    model.to(memory_format=fmt)
    return fmt
