"""Shape inference: run every op's shape logic over a spec's rows, before any weight exists.

Its own module so that `spec/schema.py` (validation needs the shapes) and `model/compile.py` (accounting
and building need them too) both import it and neither imports the other."""
from __future__ import annotations

from typing import TYPE_CHECKING

from budgetnet.errors import Issue, SpecError
from budgetnet.spec.geometry import Geometry
from budgetnet.spec.ops import Layer, ShapeError, get_op

if TYPE_CHECKING:
    from budgetnet.spec.schema import LayerSpec, Spec


def output(spec: "Spec") -> tuple[list[tuple["LayerSpec", Layer]], Geometry]:
    """Every row's shape logic in order, and the network's output; a collapsing shape is a
    located SpecError."""
    if spec.is_text:
        g = Geometry(tuple(spec.input), extent=spec.input[0], vocab=spec.vocab)
    else:
        g = Geometry(tuple(spec.input), extent=max(spec.input[1:]))
    out = []
    for layer in spec.layers:
        try:
            info = get_op(layer.op).fn(g, layer.args)
        except ShapeError as e:
            loc = layer.loc + ((e.field,) if e.field else ())
            raise SpecError(spec.origin, [Issue(loc, f"{e} (input shape {list(g.shape)})")]) from None
        out.append((layer, info))
        g = info.out
    return out, g


def infer(spec: "Spec") -> list[tuple["LayerSpec", Layer]]:
    """`output`, and the network's output must be one logit per class (text: per position, one
    per symbol of the vocabulary)."""
    out, g = output(spec)
    if spec.is_text and g.shape != (spec.input[0], spec.vocab):
        where = spec.layers[-1].loc if spec.layers else ("layers",)
        raise SpecError(spec.origin, [Issue(where, f"network output is {list(g.shape)}, expected "
                                                   f"[{spec.input[0]}, {spec.vocab}] (tokens, vocab): end with "
                                                   f"linear: {spec.vocab}")])
    if not spec.is_text and g.shape != (spec.classes,):
        where = spec.layers[-1].loc if spec.layers else ("layers",)
        hint = "; end with flatten" if g.kind != "vector" else ""
        raise SpecError(spec.origin, [Issue(where, f"network output is {list(g.shape)}, expected "
                                                   f"[{spec.classes}] (classes){hint}")])
    return out
