"""Scaled dot-product attention from matmuls and a stable softmax, in query blocks.

The plain form keeps the (B, heads, T, T) score and probability tensors for backward: for seed
000's pixel transformer (T = 784 tokens) that is gigabytes per batch. Here the forward pass walks
the queries in blocks, keeps only the output and each row's log-sum-exp (its running maximum plus
the log of its sum of exponentials), and the backward pass recomputes each block's probabilities
from them (as FlashAttention does). Memory for backward is O(T * head_dim) per head instead of
O(T^2); the extra cost is one more Q K^T per block.
"""
from __future__ import annotations

import math

import torch

BLOCK_ELEMENTS = 1 << 22  # scores held at once: 4 Mi floats (16 MiB) per block


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """q, k, v: (B, heads, T, hd) -> (B, heads, T, hd)."""
    return _BlockAttention.apply(q, k, v, causal)


def _rows_per_block(q: torch.Tensor, keys: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, q.shape[0] * q.shape[1] * keys))


def _scores(scaled_q_block: torch.Tensor, k: torch.Tensor, start: int, causal: bool) -> torch.Tensor:
    s = scaled_q_block @ k.transpose(-2, -1)  # (B, h, rows, T); q carries the 1/sqrt(hd): T*hd, not T*T, products
    if causal:  # query i sees keys 0..i
        rows = torch.arange(start, start + s.shape[-2], device=s.device)[:, None]
        s.masked_fill_(torch.arange(s.shape[-1], device=s.device)[None, :] > rows, float("-inf"))
    return s


class _BlockAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal):
        out = torch.empty_like(q)
        lse = q.new_empty(q.shape[:-1])  # log-sum-exp of each query's scores
        step = _rows_per_block(q, k.shape[-2])
        scaled_q = q * (1.0 / math.sqrt(q.shape[-1]))
        for i in range(0, q.shape[-2], step):
            s = _scores(scaled_q[..., i:i + step, :], k, i, causal)
            top = s.amax(-1, keepdim=True)  # shift by the row maximum: no overflow
            p = s.sub_(top).exp_()
            total = p.sum(-1, keepdim=True)
            out[..., i:i + step, :] = (p @ v) / total
            lse[..., i:i + step] = (top + total.log()).squeeze(-1)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.step = causal, step
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        scale = 1.0 / math.sqrt(q.shape[-1])
        grad_q, grad_k, grad_v = torch.empty_like(q), torch.zeros_like(k), torch.zeros_like(v)
        row_dot = (grad_out * out).sum(-1, keepdim=True)  # sum_j P_ij dP_ij, per query
        scaled_q = q * scale
        for i in range(0, q.shape[-2], ctx.step):
            rows = slice(i, i + ctx.step)
            p = _scores(scaled_q[..., rows, :], k, i, ctx.causal).sub_(lse[..., rows, None]).exp_()
            g = grad_out[..., rows, :]
            grad_v += p.transpose(-2, -1) @ g
            ds = (g @ v.transpose(-2, -1)).sub_(row_dot[..., rows, :]).mul_(p)  # softmax backward
            grad_q[..., rows, :] = ds @ k * scale
            grad_k += ds.transpose(-2, -1) @ scaled_q[..., rows, :]
        return grad_q, grad_k, grad_v, None
