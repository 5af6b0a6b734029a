"""Counting a live `nn.Module` (a user's class, not a spec) with one forward pass, in the same
convention as the spec accounting (budgetnet.spec.ops), so the two agree on every zoo model:

- params: elements of the trainable parameters (`requires_grad`); buffers (BN running
  statistics, counters) are counted apart and never as parameters;
- MACs: a conv or linear layer costs its weight + bias elements per output position (torchinfo's
  convention); self-attention adds its two T x T products (2 T^2 D) for `nn.MultiheadAttention`
  and budgetnet's attention blocks. Attention computed by a bare function call inside some other
  module is invisible to hooks and is not counted;
- receptive field: where every leaf layer that ran is a conv, pool, global pool or a layer that
  keeps positions (norms, activations, dropout), the classic `rf += (k-1)*dilation*jump;
  jump *= stride`, with a global pool or a linear layer over a flattened map seeing the whole
  input; anything else makes it `None` (n/a);
- memory (budgetnet.model.memory's conventions, for a model that runs its leaf layers one after
  another): the peak of live activation elements over the leaf layers in the order they ran
  (element-wise layers in place), and int8 weight bytes (batch norm after a conv or linear folded).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from budgetnet.model import blocks, layers
from budgetnet.model.memory import per_channel_bytes

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, layers.Conv2d)
LINEAR = (nn.Linear, layers.Linear)
POOL = (nn.MaxPool2d, nn.AvgPool2d, layers.MaxPool2d, layers.AvgPool2d)
GLOBAL = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, blocks.GlobalAvgPool)
KEEPS_POSITIONS = (nn.BatchNorm2d, nn.BatchNorm1d, nn.LayerNorm, nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
                   nn.Dropout, nn.Dropout2d, nn.Identity, nn.Flatten, blocks.Flatten, layers.BatchNorm2d,
                   layers.LayerNorm, layers.ReLU, layers.GELU, layers.SiLU, layers.Tanh, layers.Dropout)


@dataclass(frozen=True)
class ModuleCount:
    params: int          # trainable parameter elements
    buffers: int         # buffer elements (BN running statistics and the like): not parameters
    macs: int
    fc_params: int       # parameters of linear layers
    rf: int | None       # None: not a plain conv/pool stack
    peak_elements: int = 0        # live activations at the peak, network input counted
    peak_layer: str = ""          # the leaf layer that sets it
    int8_weight_bytes: int = 0


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _own_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters(recurse=False))


def count_module(model: nn.Module, input_shape: tuple[int, ...]) -> ModuleCount:
    """Count `model` on one zero image of `input_shape` (C, H, W), in eval mode, on the CPU."""
    macs = 0
    order: list[tuple[nn.Module, tuple, tuple]] = []

    def hook(m, inputs, output):
        nonlocal macs
        out = output[0] if isinstance(output, tuple) else output
        x = inputs[0] if inputs else None
        if isinstance(m, CONV):
            positions = out.numel() // (out.shape[0] * out.shape[1])
            macs += _own_params(m) * positions
        elif isinstance(m, LINEAR):
            macs += _own_params(m) * (out.numel() // (out.shape[0] * out.shape[-1]))
        elif isinstance(m, nn.MultiheadAttention):  # in-projection here; out_proj is a Linear (hooked)
            q = x if m.batch_first else x.transpose(0, 1)
            t, d = q.shape[1], m.embed_dim
            macs += (m.in_proj_weight.numel() + (m.in_proj_bias.numel() if m.in_proj_bias is not None else 0)) * t
            macs += 2 * t * t * d
        elif isinstance(m, blocks.Attention):  # its projections are Linears (hooked)
            t, d = x.shape[1], x.shape[2]
            macs += 2 * t * t * d
        if not list(m.children()) or isinstance(m, nn.MultiheadAttention):
            order.append((m, tuple(x.shape) if isinstance(x, torch.Tensor) else (), tuple(out.shape)))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    fc = sum(_own_params(m) for m in model.modules() if isinstance(m, LINEAR))
    peak, peak_layer = _peak(order)
    return ModuleCount(trainable, sum(b.numel() for b in model.buffers()), macs, fc,
                       _receptive_field(order, max(input_shape[1:]) if len(input_shape) > 1 else None),
                       peak, peak_layer, _int8_bytes(order))


IN_PLACE = (nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.BatchNorm2d, nn.BatchNorm1d, nn.Dropout, nn.Dropout2d,
            nn.Identity, nn.Flatten, blocks.Flatten, layers.BatchNorm2d, layers.ReLU, layers.GELU, layers.SiLU,
            layers.Tanh, layers.Dropout)
NORMS = (nn.BatchNorm2d, nn.BatchNorm1d, layers.BatchNorm2d)


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape[1:]:  # batch 1
        n *= s
    return n


def _peak(order) -> tuple[int, str]:
    """The most activation elements alive at once over the leaf layers as they ran: a layer holds
    its input and its output, an element-wise one its input only."""
    best, where = 0, ""
    for i, (m, in_shape, out_shape) in enumerate(order):
        live = _numel(in_shape) + (0 if isinstance(m, IN_PLACE) else _numel(out_shape))
        if live > best:
            best, where = live, f"{i}:{type(m).__name__}"
    return best, where


def _int8_bytes(order) -> int:
    """int8 weights (budgetnet.model.memory's conventions) of the leaf layers as they ran."""
    total = 0
    for i, (m, _, _) in enumerate(order):
        prev = order[i - 1][0] if i else None
        nxt = order[i + 1][0] if i + 1 < len(order) else None
        if isinstance(m, (*CONV, *LINEAR)):
            bias = getattr(m, "bias", None) is not None or isinstance(nxt, NORMS)
            total += m.weight.numel() + per_channel_bytes(m.weight.shape[0], bias)
        elif isinstance(m, NORMS) and isinstance(prev, (*CONV, *LINEAR)):
            continue  # folded into the conv before it
        else:
            total += 4 * _own_params(m)
    return total


def _receptive_field(order, extent: int | None) -> int | None:
    """The classic receptive field over the leaf layers in the order they ran (the spec's
    convention, budgetnet.spec.geometry: a layer mixing every position adds (extent - 1) * jump), or
    None where a layer is not a plain conv/pool-stack layer."""
    if extent is None:
        return None
    rf, jump = 1, 1
    for m, in_shape, out_shape in order:
        if isinstance(m, (CONV, POOL)):
            k = _pair(getattr(m, "kernel_size", getattr(m, "k", 1)))[0]
            stride = _pair(m.stride if m.stride is not None else k)[0]
            dilation = _pair(getattr(m, "dilation", 1))[0]
            rf, jump = rf + (k - 1) * dilation * jump, jump * stride
            extent = max(out_shape[2:])
        elif isinstance(m, (*GLOBAL, nn.Flatten, blocks.Flatten, *LINEAR)):
            rf, extent = rf + (extent - 1) * jump, 1  # every output sees every position (once)
        elif not isinstance(m, KEEPS_POSITIONS):
            return None
    return rf
