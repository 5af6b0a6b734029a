"""Scaled dot-product attention from matmuls and a stable softmax, in blocks.

The plain form keeps the (B, heads, T, T) score and probability tensors for backward: for seed
000's pixel transformer (T = 784 tokens) that is gigabytes per batch. Here the forward pass walks
blocks of (batch x head) pairs and query rows, keeps only the output and each row's log-sum-exp
(its maximum plus the log of its sum of exponentials), and the backward pass recomputes each
block's probabilities from them (as FlashAttention does). Memory for backward is O(T * head_dim)
per head instead of O(T^2); the extra cost is one more Q K^T per block.

Blocks are cache-sized (about 4 MiB of scores) and the matmuls run on 3-D (pairs, rows, keys)
tensors: with seed 000's head size of 8 every product is bound by memory traffic, so a block that
stays in cache and bmm calls that need no copies are what make it fast.
"""
from __future__ import annotations

import math

import torch

QUERY_ROWS = 64  # query rows per block
BLOCK_ELEMENTS = 1 << 20  # scores held at once: 1 Mi floats (4 MiB) per block


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """q, k, v: (B, heads, T, hd) -> (B, heads, T, hd)."""
    b, h, t, d = q.shape
    flat = [x.reshape(b * h, t, d) for x in (q, k, v)]
    return _BlockAttention.apply(*flat, causal).view(b, h, t, d)


def _blocks(pairs: int, queries: int, keys: int):
    """(pair slice, row slice) of each block: QUERY_ROWS rows and as many pairs as BLOCK_ELEMENTS allow."""
    rows = max(1, min(queries, QUERY_ROWS, BLOCK_ELEMENTS // keys))
    step = max(1, BLOCK_ELEMENTS // (rows * keys))
    for n in range(0, pairs, step):
        for i in range(0, queries, rows):
            yield slice(n, n + step), slice(i, i + rows)


def _scores(scaled_q: torch.Tensor, k_t: torch.Tensor, rows: slice, causal: bool) -> torch.Tensor:
    s = torch.bmm(scaled_q, k_t)  # (pairs, rows, T); q carries the 1/sqrt(hd): T*hd, not T*T, products
    if causal:  # query i sees keys 0..i
        query = torch.arange(rows.start, rows.start + s.shape[-2], device=s.device)[:, None]
        s.masked_fill_(torch.arange(s.shape[-1], device=s.device)[None, :] > query, float("-inf"))
    return s


class _BlockAttention(torch.autograd.Function):
    """q, k, v: (pairs, T, hd)."""

    @staticmethod
    def forward(ctx, q, k, v, causal):
        out = torch.empty_like(q)
        lse = q.new_empty(q.shape[:-1])  # log-sum-exp of each query's scores
        scaled_q, k_t = q * (1.0 / math.sqrt(q.shape[-1])), k.transpose(1, 2)
        for pairs, rows in _blocks(q.shape[0], q.shape[1], k.shape[1]):
            s = _scores(scaled_q[pairs, rows], k_t[pairs], rows, causal)
            top = s.amax(-1, keepdim=True)  # shift by the row maximum: no overflow
            p = s.sub_(top).exp_()
            total = p.sum(-1, keepdim=True)
            out[pairs, rows] = torch.bmm(p, v[pairs]).div_(total)
            lse[pairs, rows] = (top + total.log_()).squeeze(-1)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal = causal
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        scale = 1.0 / math.sqrt(q.shape[-1])
        grad_q, grad_k, grad_v = torch.empty_like(q), torch.zeros_like(k), torch.zeros_like(v)
        row_dot = (grad_out * out).sum(-1, keepdim=True)  # sum_j P_ij dP_ij, per query
        scaled_q, k_t, v_t = q * scale, k.transpose(1, 2), v.transpose(1, 2)
        for pairs, rows in _blocks(q.shape[0], q.shape[1], k.shape[1]):
            p = _scores(scaled_q[pairs, rows], k_t[pairs], rows, ctx.causal).sub_(lse[pairs, rows, None]).exp_()
            g = grad_out[pairs, rows]
            grad_v[pairs].baddbmm_(p.transpose(1, 2), g)
            ds = torch.bmm(g, v_t[pairs]).sub_(row_dot[pairs, rows]).mul_(p)  # softmax backward
            grad_q[pairs, rows] = torch.bmm(ds, k[pairs])
            grad_k[pairs].baddbmm_(ds.transpose(1, 2), scaled_q[pairs, rows])
        return grad_q.mul_(scale), grad_k, grad_v, None
