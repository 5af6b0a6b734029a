"""Fully connected layer, y = x W^T + b, and the token embedding (a table indexed by token ids),
with torch.nn.Linear's and torch.nn.Embedding's parameter layouts."""
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


class Embedding(nn.Module):
    """Token ids -> rows of a learned (vocab, dim) table: plain indexing, whose backward
    scatters each row's gradient (autograd's index backward)."""

    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.num_embeddings, self.embedding_dim = vocab, dim
        self.weight = nn.Parameter(torch.empty(vocab, dim))
        nn.init.normal_(self.weight)

    def forward(self, ids):  # (..., T) int64 -> (..., T, dim)
        return self.weight[ids]
