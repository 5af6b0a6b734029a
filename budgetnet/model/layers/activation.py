"""Activations, dropout and softmax from elementary tensor ops."""
from __future__ import annotations

import math

import torch
from torch import nn


class ReLU(nn.Module):
    def forward(self, x):
        return torch.clamp(x, min=0)


class GELU(nn.Module):
    def forward(self, x):  # exact (erf) form, as nn.GELU's default
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class SiLU(nn.Module):
    def forward(self, x):
        return x / (1.0 + torch.exp(-x))


class Tanh(nn.Module):
    def forward(self, x):
        return torch.tanh(x)


class Dropout(nn.Module):
    """Inverted dropout; draws its mask with bernoulli_ like torch's CPU kernel."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    z = torch.exp(x - x.amax(dim=dim, keepdim=True))  # shift by the max: no overflow
    return z / z.sum(dim=dim, keepdim=True)
