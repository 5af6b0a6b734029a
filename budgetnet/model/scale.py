"""A spec's widths scaled to a parameter budget (`budgetnet scale`): the same layout and recipe,
every hidden conv and linear width multiplied by one factor solved from the analytic count (as
the general search family fills its samples), then single channels added where they still fit.
The classifier (the last conv or linear) keeps its width: it is the class count."""
from __future__ import annotations

import copy

from budgetnet.errors import Issue, SpecError
from budgetnet.model.compile import count_params
from budgetnet.spec.schema import Spec, load_spec

WIDTH_OPS = ("conv", "linear")


def _width_slots(raw: dict) -> list[int]:
    """Indices of the rows whose `out` is scaled: every conv / linear but the last one."""
    rows = [i for i, row in enumerate(raw["layers"]) if isinstance(row, dict) and next(iter(row)) in WIDTH_OPS]
    return rows[:-1]


def _with_widths(raw: dict, slots: list[int], widths: list[int]) -> dict:
    out = copy.deepcopy(raw)
    for i, w in zip(slots, widths):
        (op, args), = out["layers"][i].items()
        out["layers"][i] = {op: dict(args, out=w)}
    return out


def scale_to_budget(x, max_params: int, name: str | None = None, min_width: int = 1) -> Spec:
    """The spec `x` with its hidden widths scaled so that its parameters are as close to
    `max_params` as whole channels allow, never above (SpecError when even width `min_width`
    does not fit, or the spec has grouped convs, whose widths are tied to their inputs)."""
    spec = load_spec(x)
    raw = spec.to_dict()
    slots = _width_slots(raw)
    source = spec.name
    grouped = [i for i in slots if raw["layers"][i].get("conv", {}).get("groups", 1) != 1]
    if grouped:
        raise SpecError(source, [Issue(("layers", grouped[0], "conv", "groups"),
                                       "scale does not handle grouped convs (their width follows their input)")])
    if not slots:
        raise SpecError(source, [Issue(("layers",), "no hidden conv or linear width to scale")])
    base = [next(iter(raw["layers"][i].values()))["out"] for i in slots]

    def widths(factor: float) -> list[int]:
        return [max(min_width, round(b * factor)) for b in base]

    def params(ws: list[int]) -> int:
        return count_params(_with_widths(raw, slots, ws))

    if params(widths(0.0)) > max_params:
        raise SpecError(source, [Issue(("budget", "max_params"), f"even at width {min_width} the layout has "
                                       f"{params(widths(0.0)):,} params > {max_params:,}")])
    lo, hi = 0.0, 1.0
    while params(widths(hi)) <= max_params:
        hi *= 2
    for _ in range(40):  # the count grows with the factor: bisect to the largest that fits
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if params(widths(mid)) <= max_params else (lo, mid)
    ws = widths(lo)
    grown = True
    while grown:  # top up: one more channel where it still fits, widest slot first
        grown = False
        for k in sorted(range(len(ws)), key=lambda k: -ws[k]):
            trial = ws[:k] + [ws[k] + 1] + ws[k + 1:]
            if params(trial) <= max_params:
                ws, grown = trial, True
    out = _with_widths(raw, slots, ws)
    out["name"] = name or f"{spec.name}_{max_params}"
    out["budget"] = dict(out.get("budget") or {}, max_params=max_params)
    out["source"] = (f"{spec.name} scaled to <= {max_params:,} params by `budgetnet scale` "
                     f"(widths {'-'.join(map(str, ws))})")
    return load_spec(out)
