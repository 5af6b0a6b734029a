"""Backends: the leaf layers a spec compiles onto. `torch` uses torch.nn; `custom` uses the
from-scratch layers of `budgetnet.model.layers`. Both give identical parameter names and shapes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch.nn.functional as F
from torch import nn

from budgetnet.model import blocks, fastdropout, fastpool, layers


@dataclass(frozen=True)
class Kit:
    name: str
    conv2d: Callable
    batchnorm2d: Callable
    linear: Callable
    layernorm: Callable
    maxpool2d: Callable
    avgpool2d: Callable
    dropout: Callable
    attend: Callable  # (q, k, v, causal) -> attention output, shapes (B, heads, T, hd)
    embed: Callable   # (vocab, dim) -> token ids (B, T) to vectors (B, T, dim)
    activations: dict = field(default_factory=dict)

    # Composite blocks are shared; they take this kit for their leaf layers.
    def identity(self):
        return nn.Identity()

    def gap(self):
        return blocks.GlobalAvgPool()

    def flatten(self):
        return blocks.Flatten()

    def patch_embed(self, in_ch, dim, size, bias):
        return blocks.PatchEmbed(self, in_ch, dim, size, bias)

    def pixel_tokens(self):
        return blocks.PixelTokens()

    def row_tokens(self):
        return blocks.RowTokens()

    def sin_pos(self, tokens, dim):
        return blocks.SinPos(tokens, dim)

    def pos_embed(self, tokens, dim):
        return blocks.PosEmbed(tokens, dim)

    def cls_token(self, dim):
        return blocks.ClsToken(dim)

    def token_pool(self, mode):
        return blocks.TokenPool(mode)

    def encoder(self, dim, heads, hidden, dropout, causal, activation):
        return blocks.EncoderBlock(self, dim, heads, hidden, dropout, causal, activation)


def _torch_attend(q, k, v, causal):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


TORCH = Kit(
    name="torch",
    conv2d=nn.Conv2d,
    batchnorm2d=nn.BatchNorm2d,
    linear=nn.Linear,
    layernorm=nn.LayerNorm,
    maxpool2d=lambda k, stride, padding: fastpool.MaxPool2d(k, stride, padding),  # nn.MaxPool2d, faster on CPU
    avgpool2d=lambda k, stride, padding: nn.AvgPool2d(k, stride, padding),
    dropout=fastdropout.Dropout,  # nn.Dropout whose masks the fast engine draws cheaply
    attend=_torch_attend,
    embed=nn.Embedding,
    activations={"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh},
)

CUSTOM = Kit(
    name="custom",
    conv2d=layers.Conv2d,
    batchnorm2d=layers.BatchNorm2d,
    linear=layers.Linear,
    layernorm=layers.LayerNorm,
    maxpool2d=layers.MaxPool2d,
    avgpool2d=layers.AvgPool2d,
    dropout=layers.Dropout,
    attend=layers.attend,
    embed=layers.Embedding,
    activations={"relu": layers.ReLU, "gelu": layers.GELU, "silu": layers.SiLU, "tanh": layers.Tanh},
)

BACKENDS = {"torch": TORCH, "custom": CUSTOM}
