"""Dropout for the torch backend whose masks cost little to draw.

torch's CPU dropout draws each mask element with `bernoulli_`, one 32-bit Mersenne Twister draw
and a float compare per element: a fifth of a small conv net's training step. Here one 64-bit
draw gives four 16-bit words, and an element is kept when its word is at or above the threshold
p * 2^16: the drop probability is p rounded to 1/65536. The mask is laid out like the activation
(NCHW or channels-last), so the multiplies stream through memory in order. The words come from
torch's default generator, as `bernoulli_`'s do, so a checkpoint's saved RNG state resumes the
same masks.

`masks = "bernoulli"` gives torch's own dropout (the reference engine's arithmetic)."""
from __future__ import annotations

import torch
from torch import nn

WORD_BITS = 16
LOWEST = -(1 << (WORD_BITS - 1))


def keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """Bool mask shaped and strided like `x` (dense), each element kept with probability 1 - p."""
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous()
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-(1 << 63), None)
    noise = words.view(torch.int16)[:n].as_strided(x.shape, x.stride())
    return noise >= LOWEST + round(p * (1 << WORD_BITS))


class _CheapDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p: float):
        scale = keep_mask(x, p) * (1.0 / (1.0 - p))  # 0 or 1/(1-p), x's dtype after promotion
        ctx.save_for_backward(scale)
        return x * scale

    @staticmethod
    def backward(ctx, grad):
        (scale,) = ctx.saved_tensors
        return grad * scale, None


class Dropout(nn.Dropout):
    """nn.Dropout (same state and repr) whose training-mode masks are cheap (`masks="words"`)
    or torch's own (`masks="bernoulli"`); identity in eval mode either way."""

    masks: str = "bernoulli"

    def forward(self, x):
        if self.masks == "words" and self.training and 0.0 < self.p < 1.0 and not self.inplace:
            return _CheapDropout.apply(x, self.p)
        return super().forward(x)
