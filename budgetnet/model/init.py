"""Weight initialisation, applied identically on both backends.

`torch`:   PyTorch's defaults for conv/linear (Kaiming-uniform with a=sqrt(5), bias U(+-1/sqrt(fan_in))).
`kaiming`: the seeds' He init, N(0, 2/fan_in) weights and zero bias (seed 000's CustomConv2d).
Norms start at weight 1 / bias 0; positional embeddings, class tokens and token embedding tables
at N(0, 0.02) truncated (GPT-2's scale).
"""
from __future__ import annotations

import math

import torch
from torch import nn


def _fan_in(weight: torch.Tensor) -> int:
    return weight[0].numel()  # in_channels/groups * k * k, or in_features


@torch.no_grad()
def init_dense_(weight: torch.Tensor, bias: torch.Tensor | None, scheme: str = "torch") -> None:
    fan_in = _fan_in(weight)
    if scheme == "kaiming":
        weight.normal_(0.0, math.sqrt(2.0 / fan_in))
        if bias is not None:
            bias.zero_()
    else:
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        if bias is not None:
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            bias.uniform_(-bound, bound)


@torch.no_grad()
def initialize(model: nn.Module, scheme: str = "torch") -> nn.Module:
    """Walk modules in registration order so the same seed gives the same weights on any backend."""
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if hasattr(module, "num_embeddings"):  # a token table (torch's or ours): no fan-in
            nn.init.trunc_normal_(weight, std=0.02)
        elif isinstance(weight, nn.Parameter) and weight.dim() >= 2:
            init_dense_(weight, getattr(module, "bias", None), scheme)
        elif isinstance(weight, nn.Parameter):  # batch norm / layer norm affine
            weight.fill_(1.0)
            module.bias.zero_()
        for name in ("pos", "cls"):
            p = module._parameters.get(name)
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
    return model
