"""The op registry: each op declares its typed arguments and its own shape logic.

An op is a function `(Geometry, Args) -> Layer`. The Layer carries the output geometry,
the exact parameter and MAC counts, and a `make(kit)` that builds the module on a backend
(`budgetnet.model.backends`). Counting therefore never needs to build a network.

MAC convention (torchinfo's): a conv or linear costs (weight + bias elements) per output
position; attention adds its two T x T products; normalisation, activations, pooling: 0.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Callable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, NonNegativeInt
from torch import nn

from budgetnet.spec.geometry import Geometry

MakeModule = Callable[["object"], nn.Module]


class ShapeError(ValueError):
    """Raised by an op when its input shape cannot take it; `field` names the culprit."""

    def __init__(self, field: str | None, msg: str):
        self.field = field
        super().__init__(msg)


@dataclass(frozen=True)
class Layer:
    out: Geometry
    params: int
    macs: int
    make: MakeModule


class OpArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True)
class OpDef:
    name: str
    args: type[OpArgs]
    fn: Callable[[Geometry, OpArgs], Layer]
    shorthand: str | None  # the field a scalar fills: `- dropout: 0.05`
    doc: str


OPS: dict[str, OpDef] = {}


def register_op(name: str, args: type[OpArgs], shorthand: str | None = None):
    def wrap(fn):
        if name in OPS:
            raise ValueError(f"op {name!r} registered twice")
        OPS[name] = OpDef(name, args, fn, shorthand, (fn.__doc__ or "").strip())
        return fn

    return wrap


def get_op(name: str) -> OpDef:
    if name not in OPS:
        close = difflib.get_close_matches(name, OPS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known ops: {', '.join(sorted(OPS))}"
        raise KeyError(f"unknown op {name!r}{hint}")
    return OPS[name]


def _need(g: Geometry, kind: str, op: str) -> None:
    if g.kind != kind:
        raise ShapeError(None, f"{op} needs a {kind} input, got {g.kind} of shape {list(g.shape)}")


def _window(size: int, k: int, stride: int, padding: int, dilation: int, field: str) -> int:
    span = dilation * (k - 1) + 1
    out = (size + 2 * padding - span) // stride + 1
    if size + 2 * padding < span or out < 1:
        raise ShapeError(field, f"window {span} (k={k}, dilation={dilation}) is larger than its "
                                f"input {size} + padding {2 * padding}")
    return out


# ----------------------------------------------------------------------------- feature maps
class ConvArgs(OpArgs):
    out: PositiveInt
    k: PositiveInt = 3
    stride: PositiveInt = 1
    padding: NonNegativeInt = 0
    dilation: PositiveInt = 1
    groups: PositiveInt = 1
    bias: bool = False


@register_op("conv", ConvArgs, shorthand="out")
def conv(g: Geometry, a: ConvArgs) -> Layer:
    """2-D convolution; a 1x1 is `k: 1`. No bias unless `bias: true`."""
    _need(g, "image", "conv")
    c, h, w = g.shape
    if c % a.groups:
        raise ShapeError("groups", f"input channels {c} are not divisible by groups {a.groups}")
    if a.out % a.groups:
        raise ShapeError("groups", f"out {a.out} is not divisible by groups {a.groups}")
    oh = _window(h, a.k, a.stride, a.padding, a.dilation, "k")
    ow = _window(w, a.k, a.stride, a.padding, a.dilation, "k")
    params = a.out * (c // a.groups) * a.k * a.k + (a.out if a.bias else 0)
    return Layer(
        g.sliding((a.out, oh, ow), a.k, a.stride, a.dilation), params, params * oh * ow,
        lambda kit: kit.conv2d(c, a.out, a.k, stride=a.stride, padding=a.padding,
                               dilation=a.dilation, groups=a.groups, bias=a.bias),
    )


class NormArgs(OpArgs):
    eps: float = Field(1e-5, gt=0)
    momentum: float = Field(0.1, gt=0, le=1)


@register_op("bn", NormArgs)
def bn(g: Geometry, a: NormArgs) -> Layer:
    """Batch norm over channels, with running statistics."""
    _need(g, "image", "bn")
    c = g.shape[0]
    return Layer(g, 2 * c, 0, lambda kit: kit.batchnorm2d(c, eps=a.eps, momentum=a.momentum))


class PoolArgs(OpArgs):
    k: PositiveInt = 2
    stride: Optional[PositiveInt] = None  # defaults to k
    padding: NonNegativeInt = 0


def _pool(g: Geometry, a: PoolArgs, op: str, make) -> Layer:
    _need(g, "image", op)
    if a.padding * 2 > a.k:
        raise ShapeError("padding", f"padding {a.padding} must be at most half of k={a.k}")
    stride = a.stride or a.k
    c, h, w = g.shape
    oh = _window(h, a.k, stride, a.padding, 1, "k")
    ow = _window(w, a.k, stride, a.padding, 1, "k")
    return Layer(g.sliding((c, oh, ow), a.k, stride), 0, 0, lambda kit: make(kit)(a.k, stride, a.padding))


@register_op("maxpool", PoolArgs, shorthand="k")
def maxpool(g: Geometry, a: PoolArgs) -> Layer:
    """Max pooling, window k (default 2), stride k unless given."""
    return _pool(g, a, "maxpool", lambda kit: kit.maxpool2d)


@register_op("avgpool", PoolArgs, shorthand="k")
def avgpool(g: Geometry, a: PoolArgs) -> Layer:
    """Average pooling, window k (default 2), stride k unless given."""
    return _pool(g, a, "avgpool", lambda kit: kit.avgpool2d)


class NoArgs(OpArgs):
    pass


@register_op("identity", NoArgs)
def identity(g: Geometry, a: NoArgs) -> Layer:
    """Does nothing: lets a search template switch a layer off (`- $norm` with bn | identity)."""
    return Layer(g, 0, 0, lambda kit: kit.identity())


@register_op("gap", NoArgs)
def gap(g: Geometry, a: NoArgs) -> Layer:
    """Global average pooling: (C, H, W) -> (C, 1, 1)."""
    _need(g, "image", "gap")
    return Layer(g.global_((g.shape[0], 1, 1)), 0, 0, lambda kit: kit.gap())


@register_op("flatten", NoArgs)
def flatten(g: Geometry, a: NoArgs) -> Layer:
    """Flatten a map or a token sequence into one vector."""
    size = 1
    for s in g.shape:
        size *= s
    out = g.global_((size,)) if g.kind != "vector" else g
    return Layer(out, 0, 0, lambda kit: kit.flatten())


# ----------------------------------------------------------------------------- elementwise
class DropoutArgs(OpArgs):
    p: float = Field(0.1, ge=0, lt=1)


@register_op("dropout", DropoutArgs, shorthand="p")
def dropout(g: Geometry, a: DropoutArgs) -> Layer:
    """Dropout with probability p (identity in eval mode)."""
    return Layer(g, 0, 0, lambda kit: kit.dropout(a.p))


def _activation(name: str, doc: str) -> None:
    def fn(g: Geometry, a: NoArgs) -> Layer:
        return Layer(g, 0, 0, lambda kit: kit.activations[name]())

    fn.__doc__ = doc
    register_op(name, NoArgs)(fn)


_activation("relu", "max(0, x).")
_activation("gelu", "Gaussian error linear unit (erf form).")
_activation("silu", "x * sigmoid(x).")
_activation("tanh", "Hyperbolic tangent.")


# ----------------------------------------------------------------------------- dense and tokens
class LinearArgs(OpArgs):
    out: PositiveInt
    bias: bool = True


@register_op("linear", LinearArgs, shorthand="out")
def linear(g: Geometry, a: LinearArgs) -> Layer:
    """Fully connected layer on a vector, or on each token of a sequence."""
    if g.kind == "image":
        raise ShapeError(None, f"linear needs a vector or tokens, got an image of shape {list(g.shape)}; add flatten")
    d = g.shape[-1]
    params = d * a.out + (a.out if a.bias else 0)
    positions = g.shape[0] if g.kind == "tokens" else 1
    return Layer(g.reshaped(g.shape[:-1] + (a.out,)), params, params * positions,
                 lambda kit: kit.linear(d, a.out, bias=a.bias))


@register_op("ln", NormArgs)
def ln(g: Geometry, a: NormArgs) -> Layer:
    """Layer norm over the last dimension (tokens or vectors)."""
    if g.kind == "image":
        raise ShapeError(None, "ln needs tokens or a vector, got an image")
    d = g.shape[-1]
    return Layer(g, 2 * d, 0, lambda kit: kit.layernorm(d, eps=a.eps))


class PatchArgs(OpArgs):
    size: PositiveInt
    dim: PositiveInt
    bias: bool = True


@register_op("patch_embed", PatchArgs)
def patch_embed(g: Geometry, a: PatchArgs) -> Layer:
    """Cut the image into size x size patches, embed each linearly: (C,H,W) -> (H*W/size^2, dim)."""
    _need(g, "image", "patch_embed")
    c, h, w = g.shape
    if h % a.size or w % a.size:
        raise ShapeError("size", f"patch size {a.size} does not divide the {h}x{w} input")
    tokens = (h // a.size) * (w // a.size)
    params = a.dim * c * a.size * a.size + (a.dim if a.bias else 0)
    out = g.sliding((a.dim, h // a.size, w // a.size), a.size, a.size).reshaped((tokens, a.dim))
    return Layer(out, params, params * tokens, lambda kit: kit.patch_embed(c, a.dim, a.size, a.bias))


@register_op("pixel_tokens", NoArgs)
def pixel_tokens(g: Geometry, a: NoArgs) -> Layer:
    """Every pixel becomes a token of its channel values: (C,H,W) -> (H*W, C)."""
    _need(g, "image", "pixel_tokens")
    c, h, w = g.shape
    return Layer(g.reshaped((h * w, c)), 0, 0, lambda kit: kit.pixel_tokens())


@register_op("row_tokens", NoArgs)
def row_tokens(g: Geometry, a: NoArgs) -> Layer:
    """Every image row becomes a token of its pixels (all channels): (C,H,W) -> (H, C*W)."""
    _need(g, "image", "row_tokens")
    c, h, w = g.shape
    return Layer(g.reshaped((h, c * w)), 0, 0, lambda kit: kit.row_tokens())


@register_op("sin_pos", NoArgs)
def sin_pos(g: Geometry, a: NoArgs) -> Layer:
    """Fixed sinusoidal positional encoding added to every token (Vaswani et al. 2017): 0 parameters."""
    _need(g, "tokens", "sin_pos")
    t, d = g.shape
    if d % 2:
        raise ShapeError(None, f"sin_pos needs an even token width, got {d}")
    return Layer(g, 0, 0, lambda kit: kit.sin_pos(t, d))


class EmbedArgs(OpArgs):
    dim: PositiveInt


@register_op("embed", EmbedArgs, shorthand="dim")
def embed(g: Geometry, a: EmbedArgs) -> Layer:
    """Token ids to vectors: a learned table of vocab x dim, indexed (a lookup: 0 MACs): (T,) -> (T, dim)."""
    if g.kind != "ids":
        raise ShapeError(None, f"embed needs token ids (a text input, input: {{tokens: T, vocab: V}}), got "
                               f"{g.kind} of shape {list(g.shape)}")
    (t,) = g.shape
    return Layer(replace(g, shape=(t, a.dim), vocab=0), g.vocab * a.dim, 0, lambda kit: kit.embed(g.vocab, a.dim))


@register_op("pos_embed", NoArgs)
def pos_embed(g: Geometry, a: NoArgs) -> Layer:
    """Learned positional embedding added to every token."""
    _need(g, "tokens", "pos_embed")
    t, d = g.shape
    return Layer(g, t * d, 0, lambda kit: kit.pos_embed(t, d))


@register_op("cls_token", NoArgs)
def cls_token(g: Geometry, a: NoArgs) -> Layer:
    """Prepend a learned class token: (T, D) -> (T+1, D)."""
    _need(g, "tokens", "cls_token")
    t, d = g.shape
    return Layer(g.reshaped((t + 1, d)), d, 0, lambda kit: kit.cls_token(d))


class EncoderArgs(OpArgs):
    heads: PositiveInt
    mlp_ratio: float = Field(4.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    causal: bool = False
    activation: Literal["gelu", "relu"] = "gelu"


@register_op("encoder", EncoderArgs)
def encoder(g: Geometry, a: EncoderArgs) -> Layer:
    """Pre-norm transformer block: x + MHSA(LN(x)), then x + MLP(LN(x))."""
    _need(g, "tokens", "encoder")
    t, d = g.shape
    if d % a.heads:
        raise ShapeError("heads", f"width {d} is not divisible by heads {a.heads}")
    hidden = int(round(d * a.mlp_ratio))
    if hidden < 1:
        raise ShapeError("mlp_ratio", f"MLP width {d} x {a.mlp_ratio} rounds to 0")
    per_token = (3 * d * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d)
    params = per_token + 4 * d  # + two layer norms
    macs = t * per_token + 2 * t * t * d  # + QK^T and AV
    return Layer(g.global_(g.shape), params, macs,
                 lambda kit: kit.encoder(d, a.heads, hidden, a.dropout, a.causal, a.activation))


class TokenPoolArgs(OpArgs):
    mode: Literal["mean", "cls"] = "mean"


@register_op("token_pool", TokenPoolArgs, shorthand="mode")
def token_pool(g: Geometry, a: TokenPoolArgs) -> Layer:
    """Tokens to one vector: their mean, or the class token (the first)."""
    _need(g, "tokens", "token_pool")
    return Layer(g.global_((g.shape[1],)), 0, 0, lambda kit: kit.token_pool(a.mode))
