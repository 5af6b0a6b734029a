"""Scaled dot-product attention: matmul, an optional causal mask, a stable softmax."""
from __future__ import annotations

import math

import torch

from budgetnet.layers.activation import softmax


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """q, k, v: (B, heads, T, hd) -> (B, heads, T, hd)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, heads, T, T)
    if causal:
        t = scores.shape[-1]
        future = torch.ones(t, t, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    return softmax(scores, dim=-1) @ v
