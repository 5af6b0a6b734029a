"""Modules composed from a backend kit, so both backends share one definition of each block.

Only the leaf layers (conv, norms, linear, pooling, attention products) differ between
backends; everything here is wiring and reshapes.
"""
from __future__ import annotations

import torch
from torch import nn


class GlobalAvgPool(nn.Module):
    def forward(self, x):  # (B, C, H, W) -> (B, C, 1, 1)
        return x.mean(dim=(2, 3), keepdim=True)


class Flatten(nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class PatchEmbed(nn.Module):
    def __init__(self, kit, in_ch: int, dim: int, size: int, bias: bool):
        super().__init__()
        self.proj = kit.conv2d(in_ch, dim, size, stride=size, bias=bias)

    def forward(self, x):  # (B, C, H, W) -> (B, T, D)
        return self.proj(x).flatten(2).transpose(1, 2)


class PixelTokens(nn.Module):
    def forward(self, x):  # (B, C, H, W) -> (B, H*W, C)
        return x.flatten(2).transpose(1, 2)


class RowTokens(nn.Module):
    def forward(self, x):  # (B, C, H, W) -> (B, H, C*W)
        return x.permute(0, 2, 1, 3).flatten(2)


class SinPos(nn.Module):
    """The fixed encoding PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(...), added; a
    non-persistent buffer, so it is neither a parameter nor in the state dict."""

    def __init__(self, tokens: int, dim: int):
        super().__init__()
        t = torch.arange(tokens, dtype=torch.float64)[:, None]
        freq = torch.pow(10000.0, -torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        pe = torch.zeros(tokens, dim, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(t * freq), torch.cos(t * freq)
        self.register_buffer("pe", pe.float()[None], persistent=False)

    def forward(self, x):  # (B, T, D); a shorter sequence takes the first positions
        return x + self.pe[:, :x.shape[1]]


class PosEmbed(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, tokens, dim))

    def forward(self, x):  # (B, T, D); a shorter sequence (text generation) takes the first positions
        return x + self.pos[:, :x.shape[1]]


class ClsToken(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x):  # (B, T, D) -> (B, T+1, D)
        return torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)


class TokenPool(nn.Module):
    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x):  # (B, T, D) -> (B, D)
        return x[:, 0] if self.mode == "cls" else x.mean(dim=1)


class Attention(nn.Module):
    """Multi-head self-attention; `attend` is the backend's scaled dot-product."""

    def __init__(self, kit, dim: int, heads: int, dropout: float, causal: bool):
        super().__init__()
        self.heads, self.causal, self.attend = heads, causal, kit.attend
        self.qkv = kit.linear(dim, 3 * dim)
        self.proj = kit.linear(dim, dim)
        self.drop = kit.dropout(dropout)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = self.attend(qkv[0], qkv[1], qkv[2], self.causal)  # (B, heads, T, hd)
        return self.drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))


class Mlp(nn.Module):
    def __init__(self, kit, dim: int, hidden: int, dropout: float, activation: str):
        super().__init__()
        self.fc1 = kit.linear(dim, hidden)
        self.act = kit.activations[activation]()
        self.fc2 = kit.linear(hidden, dim)
        self.drop = kit.dropout(dropout)

    def forward(self, x):
        return self.drop(self.fc2(self.act(self.fc1(x))))


class EncoderBlock(nn.Module):
    def __init__(self, kit, dim, heads, hidden, dropout, causal, activation):
        super().__init__()
        self.norm1 = kit.layernorm(dim)
        self.attn = Attention(kit, dim, heads, dropout, causal)
        self.norm2 = kit.layernorm(dim)
        self.mlp = Mlp(kit, dim, hidden, dropout, activation)

    def forward(self, x):  # (B, T, D)
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
