"""The general CNN family: one search space for any parameter budget, filled to the budget.

A sample fixes a structure (stages, convs per stage, stem kernel, 1x1 transitions, depthwise-
separable convs, width proportions, dropout) and a recipe. Its widths are then multiplied by
one factor, solved from the analytic parameter count (nothing is built), so that the model
lands in [0.85 N, N] for a budget of N: every candidate uses the budget it is given (the width
multiplier of MobileNet, here solved instead of chosen). The lean and MnistNet layouts are
points of the family: `best_lean7k` is stages 2, convs (2, 3), a 1x1 transition after the pool.

Layout of a sample, per stage s (1..stages), the last stage ending in GAP and a 1x1 classifier:
    stage 1: stem conv (stem_k x stem_k, width stem), then convs1-1 3x3 convs of width w1
    stage s > 1: convs_s 3x3 convs of width w_s (depthwise 3x3 + 1x1 when separable)
    between stages: maxpool 2, with a 1x1 conv before or after it when transition is on
Every conv is followed by ReLU and BN (as the seeds do), dropout after all but the last.

Any input works: 1 or 3 channels (or more), sides from 8 to 64 and beyond. A conv stays unpadded
while its output keeps MIN_MAP pixels a side and is padded to keep the map where it would not;
a pool runs only while the map has MIN_POOL_SIDE pixels a side; the classifier is as wide as the
classes. The recipe's augmentation follows the kind of image (AUGMENT_KINDS): rotations and
shifts for digits, mirror images and shifts (crops) for natural images, nothing for `none`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from budgetnet.model.compile import count_params
from budgetnet.errors import Issue, SpecError
from budgetnet.spec.schema import Spec, load_spec

MIN_WIDTH = 4          # narrower convs are not worth a search
BASE_WIDTH = 16        # stage-1 width before scaling; only proportions matter
MIN_FILL = 0.85        # a filled model uses at least this share of the budget
MIN_MAP = 5            # a conv stays unpadded while its output keeps this many pixels a side
MIN_POOL_SIDE = 4      # a 2x2 max pool runs while the map keeps at least this many pixels a side
MAX_STAGES = 3
MNIST_SHAPE = (1, 28, 28)
AUGMENT_KINDS = ("digits", "natural", "none")
STRUCTURE_KEYS = ("stages", "convs1", "convs2", "convs3", "stem_k", "stem_ratio", "growth", "transition",
                  "transition_ratio", "separable", "dropout")
RECIPE_KEYS = ("schedule", "lr", "batch_size", "step_frac", "gamma", "rotate", "translate",
               "label_smoothing", "weight_decay")
KEYS = STRUCTURE_KEYS + RECIPE_KEYS


@dataclass(frozen=True)
class Filled:
    spec: Spec
    params: int
    fill: float        # params / budget
    arch: str          # the structure in one line, e.g. "7-17 / pool t8 / 14-14-14"


def base_widths(v: Mapping[str, Any]) -> dict[str, float]:
    """Unscaled widths of one structure: stem, w1..w3 and the transition convs t1, t2."""
    w = {"stem": BASE_WIDTH * v["stem_ratio"], "w1": float(BASE_WIDTH)}
    for s in range(2, MAX_STAGES + 1):
        w[f"w{s}"] = w[f"w{s - 1}"] * v["growth"]
    for s in range(1, MAX_STAGES):
        w[f"t{s}"] = w[f"w{s}"] * v["transition_ratio"]
    return w


def scaled(base: Mapping[str, float], scale: float) -> dict[str, int]:
    return {k: max(MIN_WIDTH, round(b * scale)) for k, b in base.items()}


def _conv_rows(width: int, k: int, size: tuple[int, int], separable: bool, in_width: int) -> tuple[list, tuple]:
    """One conv (or depthwise + pointwise pair) with ReLU and BN; returns rows and output size."""
    pad = 0 if min(size) - (k - 1) >= MIN_MAP else k // 2
    size = tuple(s - (k - 1) + 2 * pad for s in size)
    conv = {"out": width, "k": k} | ({"padding": pad} if pad else {})
    if separable:
        rows = [{"conv": {"out": in_width, "k": k, "groups": in_width} | ({"padding": pad} if pad else {})},
                {"conv": {"out": width, "k": 1}}]
    else:
        rows = [{"conv": conv}]
    return rows + ["relu", "bn"], size


def layers(v: Mapping[str, Any], widths: Mapping[str, int], shape: tuple[int, int, int] = MNIST_SHAPE,
           classes: int = 10) -> tuple[list, str]:
    """The spec rows of a structure at given widths for images of `shape` (C, H, W), and its
    one-line description."""
    rows: list = []
    arch: list[str] = []
    size, channels = tuple(shape[1:]), None
    convs = [v["convs1"], v["convs2"], v["convs3"]][: v["stages"]]
    for s, n in enumerate(convs, start=1):
        stage = []
        for i in range(n):
            stem = s == 1 and i == 0
            width = widths["stem"] if stem else widths[f"w{s}"]
            k = v["stem_k"] if stem else 3
            separable = bool(v["separable"]) and s > 1
            conv, size = _conv_rows(width, k, size, separable, channels or shape[0])
            rows += conv + ([{"dropout": v["dropout"]}] if v["dropout"] > 0 else [])
            stage.append(f"{'dw' if separable else ''}{width}" + (f"k{k}" if k != 3 else ""))
            channels = width
        arch.append("-".join(stage))
        if s < len(convs):
            t = widths[f"t{s}"]
            one_by_one = [{"conv": {"out": t, "k": 1}}, "relu"]
            pools = min(size) >= MIN_POOL_SIDE  # a small map keeps its pixels
            pool, word = ([{"maxpool": 2}], "pool") if pools else ([], "nopool")
            if v["transition"] == "before_pool":
                rows += one_by_one + pool
                arch.append(f"t{t} {word}")
            elif v["transition"] == "after_pool":
                rows += pool + one_by_one
                arch.append(f"{word} t{t}")
            else:
                rows += pool
                arch.append(word)
            channels = t if v["transition"] != "none" else channels
            size = tuple(x // 2 for x in size) if pools else size
    if rows and isinstance(rows[-1], dict) and "dropout" in rows[-1]:
        rows.pop()  # no dropout right before the classifier
    rows += ["gap", {"conv": {"out": classes, "k": 1}}, "flatten"]
    return rows, " / ".join(arch)


def augmentation(v: Mapping[str, Any], kind: str) -> dict:
    """The sample's augmentation for a kind of image: digits rotate and shift (a mirrored digit is
    another symbol), natural images mirror and shift (crops with zero fill), `none` does nothing."""
    if kind == "digits":
        return {"rotate": v["rotate"], "translate": v["translate"]}
    if kind == "natural":
        return {"hflip": True, "translate": v["translate"]}
    return {}


def recipe(v: Mapping[str, Any], epochs: int, augment: str = "digits") -> dict:
    """The training recipe of a sample, complete for `epochs` (the schedule ends within them)."""
    scheduler = {"name": v["schedule"]}
    if v["schedule"] == "step":
        scheduler |= {"step_size": max(1, round(v["step_frac"] * epochs)), "gamma": v["gamma"]}
    return {"epochs": epochs, "batch_size": v["batch_size"],
            "optimizer": {"name": "sgd", "lr": v["lr"], "momentum": 0.9, "nesterov": True,
                          "weight_decay": v["weight_decay"]},
            "scheduler": scheduler, "label_smoothing": v["label_smoothing"],
            "augment": augmentation(v, augment)}


@dataclass(frozen=True)
class Target:
    """What the family builds for: the data's image shape, its classes, its kind of augmentation."""
    shape: tuple[int, int, int] = MNIST_SHAPE
    classes: int = 10
    augment: str = "digits"


MNIST = Target()


def _raw(v: Mapping[str, Any], widths: Mapping[str, int], epochs: int, name: str, target: Target) -> tuple[dict, str]:
    rows, arch = layers(v, widths, target.shape, target.classes)
    return {"name": name, "input": list(target.shape), "classes": target.classes, "layers": rows,
            "train": recipe(v, epochs, target.augment)}, arch


def _params(v, widths, target: Target, epochs=1) -> int:
    return count_params(_raw(v, widths, epochs, "probe", target)[0])


def fits_at_all(v: Mapping[str, Any], budget: int, target: Target = MNIST) -> dict:
    """The structure, shrunk just enough for its narrowest form to fit the budget: convs dropped
    (the largest stage, last first), then a stage, then the cheaper choice of each categorical
    (no transitions, a 3x3 stem, separable convs). Raises SpecError when nothing fits."""
    v = dict(v)
    narrowest = {k: MIN_WIDTH for k in base_widths(v)}
    cheaper = [("transition", "none"), ("stem_k", 3), ("separable", True)]
    while _params(v, narrowest, target) > budget:
        counts = [v["convs1"], v["convs2"], v["convs3"]][: v["stages"]]
        if max(counts) > 1:
            s = max(i for i, c in enumerate(counts) if c == max(counts)) + 1
            v[f"convs{s}"] -= 1
        elif v["stages"] > 2:
            v["stages"] -= 1
        elif cheaper:
            key, value = cheaper.pop(0)
            v[key] = value
        else:
            raise SpecError("general", [Issue(("budget",), f"the structure's narrowest form has "
                                              f"{_params(v, narrowest, target):,} params > budget {budget:,}")])
    return v


def fill(v: Mapping[str, Any], budget: int, epochs: int, name: str = "general", target: Target = MNIST) -> Filled:
    """Scale the sample's widths so that its parameter count is as close to `budget` as the
    channel granularity allows, never above. Bisection on one width multiplier (the count grows
    with every width), then single channels added wherever they still fit."""
    v = fits_at_all(v, budget, target)
    base = base_widths(v)
    lo, hi = 0.0, 1.0
    while _params(v, scaled(base, hi), target) <= budget:
        hi *= 2
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _params(v, scaled(base, mid), target) <= budget else (lo, mid)
    widths = scaled(base, lo)
    used = _used_keys(v) & set(widths)
    grown = True
    while grown:  # top up: one more channel where it still fits, widest slot first
        grown = False
        for key in sorted(used, key=lambda k: -widths[k]):
            trial = dict(widths, **{key: widths[key] + 1})
            if _params(v, trial, target) <= budget:
                widths, grown = trial, True
    raw, arch = _raw(v, widths, epochs, name, target)
    spec = load_spec(raw)
    params = count_params(spec)
    assert params <= budget, (params, budget)  # the bisection above only accepts fitting widths
    return Filled(spec, params, params / budget, arch)


def _used_keys(v: Mapping[str, Any]) -> set[str]:
    keys = {"stem"} | {f"w{s}" for s in range(1, v["stages"] + 1)}
    if v["convs1"] == 1:
        keys.discard("w1")
    if v["transition"] != "none":
        keys |= {f"t{s}" for s in range(1, v["stages"])}
    return keys


def smallest(space: Mapping[str, Any], target: Target = MNIST) -> int:
    """Parameters of the space's smallest model for `target`: fewest stages and convs, narrowest
    widths, over every categorical structure choice. `space` maps each key to its Dist."""
    low = {k: d.example() for k, d in space.items()}  # the low end of every range
    best = None
    for stem_k in space["stem_k"].categorical:
        for transition in space["transition"].categorical:
            for separable in space["separable"].categorical:
                v = dict(low, stem_k=stem_k, transition=transition, separable=separable, schedule="onecycle")
                n = _params(v, {k: MIN_WIDTH for k in base_widths(v)}, target)
                best = n if best is None else min(best, n)
    return best
