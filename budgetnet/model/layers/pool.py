"""Max and average pooling as reductions over unfolded windows."""
from __future__ import annotations

from torch import nn

from budgetnet.model.layers.conv import patches


class MaxPool2d(nn.Module):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.k, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        windows = patches(x, self.k, self.stride, self.padding, 1, float("-inf")).flatten(-2)  # (B, C, oh, ow, k*k)
        # gather at argmax, not amax: on ties the whole gradient goes to the first maximum, as in torch
        # (amax would split it), which matters after ReLU where windows of zeros are common
        return windows.gather(-1, windows.argmax(-1, keepdim=True)).squeeze(-1)


class AvgPool2d(nn.Module):
    """Padding counts as zeros in the mean (torch's count_include_pad=True default)."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.k, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return patches(x, self.k, self.stride, self.padding, 1).mean(dim=(-2, -1))
