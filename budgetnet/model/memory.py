"""What a small device limits, counted from the spec before any weight exists: the bytes of the
weights (flash) and the peak bytes of live activations (RAM), for int8 and fp32, at batch 1.

Weights, int8 (what an int8 runtime stores; ONNX QDQ with per-channel weights):
  - a conv or linear: 1 byte per weight, and per output channel a float32 scale (4 B), an int8
    zero point (1 B) and, where it has a bias or a batch norm folds into it, an int32 bias (4 B);
  - a batch norm right after a conv or linear folds into it (its 2C parameters vanish); one that
    cannot fold (after a ReLU, as the seeds place it) stays a per-channel scale and shift, float32;
  - layer norms stay float32; positional embeddings, class tokens and token tables are int8 with one float32
    scale and one zero point per tensor; an encoder's four linears count as linears.
Weights, fp32: 4 bytes per parameter, nothing folded (the model as trained).

Activations, execution order (sequential rows, as a runtime without fusion runs them):
  - a row holds its input and its output at once: in + out elements;
  - element-wise rows (activations, batch norm, dropout, identity, a positional embedding or encoding added)
    run in place and flatten is a view: they hold their input only;
  - an encoder block holds its residual input across both halves; its peak is the largest of its
    stages: LN + QKV (x, LN(x), Q, K, V), the scores (x, Q, K, V, H x T x T), the weighted sum (x, V,
    the probabilities, the output), the projection (x, out, proj), the MLP (x, LN(x), hidden; x,
    hidden, out).
  Ours counts the network input like any other tensor (a runtime's input buffer is RAM too, as
  MCUNet counts it); `exclude_input` gives uNAS's convention (weights and the network input
  excluded: the first row counts its output only).
int8 activations are 1 byte per element, fp32 4 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Mapping, Union

from budgetnet.spec.schema import Spec, load_spec
from budgetnet.spec.shapes import infer

IN_PLACE = {"relu", "gelu", "silu", "tanh", "bn", "dropout", "identity", "flatten", "pos_embed", "sin_pos"}
FOLDS_INTO = {"conv", "linear"}   # a batch norm right after one of these folds into it
DTYPES = {"int8": 1, "fp32": 4}


@dataclass(frozen=True)
class RowMemory:
    index: int
    op: str
    in_elements: int
    out_elements: int
    live_elements: int         # held at once while this row runs (ours: the input counted)
    live_elements_unas: int    # the same with the network input excluded
    int8_weight_bytes: int


@dataclass(frozen=True)
class Memory:
    rows: tuple[RowMemory, ...]
    int8_weight_bytes: int
    fp32_weight_bytes: int
    peak_elements: int
    peak_row: int              # the row that sets the peak (the first such row)
    peak_elements_unas: int
    peak_row_unas: int

    def peak_bytes(self, dtype: str = "int8", exclude_input: bool = False) -> int:
        return DTYPES[dtype] * (self.peak_elements_unas if exclude_input else self.peak_elements)

    def weight_bytes(self, dtype: str = "int8") -> int:
        return self.int8_weight_bytes if dtype == "int8" else self.fp32_weight_bytes

    def to_dict(self) -> dict:
        return {"int8_weight_bytes": self.int8_weight_bytes, "fp32_weight_bytes": self.fp32_weight_bytes,
                "peak_activation_bytes_int8": self.peak_bytes("int8"),
                "peak_activation_bytes_fp32": self.peak_bytes("fp32"),
                "peak_activation_bytes_int8_unas": self.peak_bytes("int8", exclude_input=True),
                "peak_row": self.peak_row, "peak_row_unas": self.peak_row_unas}


def per_channel_bytes(out: int, bias: bool) -> int:
    return out * (4 + 1 + (4 if bias else 0))  # scale, zero point, int32 bias


def _int8_weights(op: str, args, in_shape: tuple[int, ...], params: int, folded_bias: bool) -> int:
    if op in FOLDS_INTO:  # conv, linear
        return params - (args.out if args.bias else 0) + per_channel_bytes(args.out, args.bias or folded_bias)
    if op == "encoder":
        t, d = in_shape
        hidden = int(round(d * args.mlp_ratio))
        linears = ((d, 3 * d), (d, d), (d, hidden), (hidden, d))  # qkv, proj, fc1, fc2; every one with a bias
        return sum(i * o + per_channel_bytes(o, True) for i, o in linears) + 4 * (4 * d)  # + two layer norms, fp32
    if op in ("bn", "ln"):
        return 4 * params  # a norm that does not fold: per-channel scale and shift, float32
    if op in ("pos_embed", "cls_token", "patch_embed", "embed"):
        return params + (4 + 1 if params else 0)
    return 4 * params  # anything else with parameters: kept as float32


def _encoder_live(t: int, d: int, heads: int, hidden: int) -> int:
    td, scores = t * d, heads * t * t
    stages = (td + td + 3 * td,             # x, LN(x), Q, K, V
              td + 3 * td + scores,         # x, Q, K, V, scores (softmax in place)
              td + td + scores + td,        # x, V, probabilities, weighted sum
              td + td + td,                 # x, attention output, projection
              td + td + t * hidden,         # x, LN(x), MLP hidden
              td + t * hidden + td)         # x, MLP hidden, MLP output
    return max(stages)


def memory(x: Union[str, Mapping, Spec], layers=None) -> Memory:
    """Weight bytes and peak activation memory of a spec (see the module's conventions);
    `layers`: the spec's shape inference when the caller has it already."""
    spec = load_spec(x)
    rows = []
    in_shape = tuple(spec.input)
    layers = layers if layers is not None else infer(spec)
    int8_total = 0
    for i, (layer, info) in enumerate(layers):
        out_shape = info.out.shape
        n_in, n_out = prod(in_shape), prod(out_shape)
        folds = layer.op == "bn" and i > 0 and layers[i - 1][0].op in FOLDS_INTO
        next_is_bn = i + 1 < len(layers) and layers[i + 1][0].op == "bn"
        weights = 0 if folds else _int8_weights(layer.op, layer.args, in_shape, info.params,
                                                 folded_bias=next_is_bn and layer.op in FOLDS_INTO)
        if layer.op == "encoder":
            t, d = in_shape
            live = _encoder_live(t, d, layer.args.heads, int(round(d * layer.args.mlp_ratio)))
            live_unas = live - (n_in if i == 0 else 0)
        elif layer.op in IN_PLACE:
            live, live_unas = n_in, (0 if i == 0 else n_in)
        else:
            live, live_unas = n_in + n_out, n_out + (0 if i == 0 else n_in)
        rows.append(RowMemory(i, layer.op, n_in, n_out, live, live_unas, weights))
        int8_total += weights
        in_shape = out_shape
    peak = max(rows, key=lambda r: r.live_elements)
    peak_unas = max(rows, key=lambda r: r.live_elements_unas)
    params = sum(info.params for _, info in layers)
    return Memory(tuple(rows), int8_total, 4 * params, peak.live_elements, peak.index,
                  peak_unas.live_elements_unas, peak_unas.index)
