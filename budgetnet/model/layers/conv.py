"""2-D convolution from matrix products.

Stride 1 (almost every conv in the zoo) uses *shifted GEMMs*: with the padded input laid out
as one (C, B*Hp*Wp) matrix, the input seen by kernel tap (i, j) is the same matrix shifted by
i*Wp + j columns, a view rather than a copy. So the output is k*k in-place `addmm_`s and no
im2col buffer is ever written (im2col's copy was 8x the cost of the product itself here).
Positions that wrap across a row or an image are computed too and cropped away. The backward
pass (an explicit autograd.Function) uses the same views. Other strides, and convs with one
input channel per group (whose im2col is small), use im2col: unfold views and one matmul.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from budgetnet.model.init import init_dense_


def patches(x: torch.Tensor, k: int, stride: int, padding: int, dilation: int, pad_value: float = 0.0):
    """(B, C, H, W) -> (B, C, oh, ow, k, k) view of every sliding window."""
    if padding:
        x = F.pad(x, (padding,) * 4, value=pad_value)  # tensor padding, not a layer function
    span = dilation * (k - 1) + 1
    p = x.unfold(2, span, stride).unfold(3, span, stride)  # (B, C, oh, ow, span, span)
    return p[..., ::dilation, ::dilation] if dilation > 1 else p


def _offsets(k: int, dilation: int, wp: int) -> list[int]:
    return [i * dilation * wp + j * dilation for i in range(k) for j in range(k)]


class _ShiftedConv(torch.autograd.Function):
    """Stride-1 convolution of an already padded input, groups handled per group."""

    @staticmethod
    def forward(ctx, xp, weight, dilation: int, groups: int):
        b, c, hp, wp = xp.shape
        o, cg, k, _ = weight.shape
        span = dilation * (k - 1) + 1
        oh, ow = hp - span + 1, wp - span + 1
        offs = _offsets(k, dilation, wp)
        n = b * hp * wp - offs[-1]  # columns every tap can read
        xf = xp.transpose(0, 1).reshape(c, b * hp * wp)  # (C, B*Hp*Wp), one copy of the input
        yf = xp.new_zeros(o, b * hp * wp)
        og = o // groups
        for g in range(groups):
            rows, cols = slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)
            for t, off in enumerate(offs):
                yf[rows, :n].addmm_(weight[rows, :, t // k, t % k], xf[cols, off:off + n])
        y = yf.reshape(o, b, hp, wp)[:, :, :oh, :ow].transpose(0, 1).contiguous()  # (B, O, oh, ow)
        ctx.save_for_backward(xf, weight)
        ctx.geometry = (b, c, hp, wp, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, gy):
        xf, weight = ctx.saved_tensors
        b, c, hp, wp, dilation, groups = ctx.geometry
        o, cg, k, _ = weight.shape
        offs = _offsets(k, dilation, wp)
        n = b * hp * wp - offs[-1]
        gyf = gy.new_zeros(o, b, hp, wp)
        gyf[:, :, :gy.shape[2], :gy.shape[3]] = gy.transpose(0, 1)
        gyf = gyf.reshape(o, b * hp * wp)[:, :n]
        gw = torch.empty_like(weight)
        gxf = xf.new_zeros(c, b * hp * wp) if ctx.needs_input_grad[0] else None
        og = o // groups
        for g in range(groups):
            rows, cols = slice(g * og, (g + 1) * og), slice(g * cg, (g + 1) * cg)
            for t, off in enumerate(offs):
                gw[rows, :, t // k, t % k] = gyf[rows] @ xf[cols, off:off + n].t()
                if gxf is not None:
                    gxf[cols, off:off + n].addmm_(weight[rows, :, t // k, t % k].t(), gyf[rows])
        gx = gxf.reshape(c, b, hp, wp).transpose(0, 1) if gxf is not None else None
        return gx, gw, None, None


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
        if self.stride == 1 and self.in_channels > self.groups:  # one input channel: im2col is cheap
            xp = F.pad(x, (self.padding,) * 4) if self.padding else x
            y = _ShiftedConv.apply(xp, self.weight, self.dilation, self.groups)
        else:
            y = self._im2col(x)
        return y + self.bias.view(1, -1, 1, 1) if self.bias is not None else y

    def _im2col(self, x):
        b, g = x.shape[0], self.groups
        p = patches(x, self.k, self.stride, self.padding, self.dilation)  # (B, C, oh, ow, k, k) view
        oh, ow = p.shape[2], p.shape[3]
        # (g, C/g*k*k, B*oh*ow): one GEMM per group; this order copies whole input rows
        cols = p.permute(1, 4, 5, 0, 2, 3).reshape(g, -1, b * oh * ow)
        w = self.weight.reshape(g, self.out_channels // g, -1)  # (g, out/g, C/g*k*k)
        y = (w @ cols).reshape(self.out_channels, b, oh, ow)  # channel-major
        return y.transpose(0, 1).contiguous()  # NCHW, as torch returns it
