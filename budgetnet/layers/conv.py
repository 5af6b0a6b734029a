"""2-D convolution as im2col: Tensor.unfold views the patches, one matmul contracts them."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from budgetnet.init import init_dense_


def patches(x: torch.Tensor, k: int, stride: int, padding: int, dilation: int, pad_value: float = 0.0):
    """(B, C, H, W) -> (B, C, oh, ow, k, k) view of every sliding window."""
    if padding:
        x = F.pad(x, (padding,) * 4, value=pad_value)  # tensor padding, not a layer function
    span = dilation * (k - 1) + 1
    p = x.unfold(2, span, stride).unfold(3, span, stride)  # (B, C, oh, ow, span, span)
    return p[..., ::dilation, ::dilation] if dilation > 1 else p


class Conv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.k, self.stride, self.padding, self.dilation, self.groups = kernel_size, stride, padding, dilation, groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        init_dense_(self.weight, self.bias)

    def forward(self, x):
        b, g = x.shape[0], self.groups
        p = patches(x, self.k, self.stride, self.padding, self.dilation)  # (B, C, oh, ow, k, k)
        oh, ow = p.shape[2], p.shape[3]
        cg = self.in_channels // g
        # (B, g, oh*ow, cg*k*k): one row of every window, per group
        cols = p.reshape(b, g, cg, oh, ow, self.k * self.k).permute(0, 1, 3, 4, 2, 5).reshape(b, g, oh * ow, -1)
        w = self.weight.reshape(g, self.out_channels // g, -1)  # (g, out/g, cg*k*k)
        y = w @ cols.transpose(2, 3)  # (B, g, out/g, oh*ow): already NCHW order, contiguous
        y = y.reshape(b, self.out_channels, oh, ow)
        return y + self.bias.view(1, -1, 1, 1) if self.bias is not None else y
