"""Fully connected layer, y = x W^T + b, with torch.nn.Linear's parameter layout."""
from __future__ import annotations

import torch
from torch import nn

from budgetnet.model.init import init_dense_


class Linear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        init_dense_(self.weight, self.bias)

    def forward(self, x):  # (..., in) -> (..., out)
        y = x @ self.weight.t()
        return y + self.bias if self.bias is not None else y
