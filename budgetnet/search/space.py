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

import itertools
from dataclasses import dataclass
from typing import Any, Mapping

from budgetnet.model.compile import count_params, summarize
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
# values a definition may leave out (their default is the layout without them); a RAM budget adds
# them to the space, since they are what cuts activation memory: a stride-2 stem
OPTIONAL = {"stem_stride": 1}
RAM_SPACE = {"stem_stride": {"categorical": [1, 2]}}


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


def _conv_rows(width: int, k: int, size: tuple[int, int], separable: bool, in_width: int,
               stride: int = 1) -> tuple[list, tuple]:
    """One conv (or depthwise + pointwise pair) with ReLU and BN; returns rows and output size."""
    pad = 0 if (min(size) - k) // stride + 1 >= MIN_MAP else k // 2
    size = tuple((s - k + 2 * pad) // stride + 1 for s in size)
    conv = {"out": width, "k": k} | ({"stride": stride} if stride > 1 else {}) | ({"padding": pad} if pad else {})
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
            stride = v.get("stem_stride", 1) if stem else 1
            conv, size = _conv_rows(width, k, size, separable, channels or shape[0], stride)
            rows += conv + ([{"dropout": v["dropout"]}] if v["dropout"] > 0 else [])
            stage.append(f"{'dw' if separable else ''}{width}" + (f"k{k}" if k != 3 else "") + (f"s{stride}" if stride > 1 else ""))
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


@dataclass(frozen=True)
class Limits:
    """The budgets a filled model must fit (None: no limit): parameters, MACs, and in `dtype`
    the weight bytes (flash) and the peak activation bytes (RAM) of budgetnet.model.memory."""
    params: int | None = None
    macs: int | None = None
    flash: int | None = None
    ram: int | None = None
    dtype: str = "int8"

    @classmethod
    def of(cls, budget) -> "Limits":
        return cls(budget.max_params, budget.max_macs, budget.max_model_bytes, budget.max_peak_activation_bytes,
                   budget.dtype)

    def given(self) -> dict[str, int]:
        return {k: v for k, v in (("params", self.params), ("MACs", self.macs), ("flash", self.flash),
                                  ("RAM", self.ram)) if v is not None}

    def costs(self, raw: dict) -> dict[str, int]:
        """What `raw` uses of each given limit (memory is counted only when a byte limit is given)."""
        if self.flash is None and self.ram is None and self.macs is None:
            return {"params": count_params(raw)}
        s = summarize(raw)
        return {"params": s.params, "MACs": s.macs, "flash": s.memory.weight_bytes(self.dtype),
                "RAM": s.memory.peak_bytes(self.dtype)}

    def usage(self, raw: dict) -> float:
        """The largest share of a limit `raw` uses: <= 1 fits every limit."""
        costs = self.costs(raw)
        return max(costs[k] / limit for k, limit in self.given().items())

    def describe(self, raw: dict) -> str:
        costs = self.costs(raw)
        return ", ".join(f"{k} {costs[k]:,} > {limit:,}" for k, limit in self.given().items() if costs[k] > limit)


def _usage(v, widths, target: Target, limits: Limits) -> float:
    return limits.usage(_raw(v, widths, 1, "probe", target)[0])


def fits_at_all(v: Mapping[str, Any], limits: Limits, target: Target = MNIST) -> dict:
    """The structure, shrunk just enough for its narrowest form to fit the limits: convs dropped
    (the largest stage, last first), then a stage, then the cheaper choice of each categorical
    (no transitions, a 3x3 stem, separable convs). Raises SpecError when nothing fits."""
    v = dict(v)
    narrowest = {k: MIN_WIDTH for k in base_widths(v)}
    cheaper = [("transition", "none"), ("stem_k", 3), ("separable", True)] + \
        ([("stem_stride", 2)] if "stem_stride" in v else [])  # the stride only where the space has it
    while _usage(v, narrowest, target, limits) > 1:
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
            raw = _raw(v, narrowest, 1, "probe", target)[0]
            raise SpecError("general", [Issue(("budget",), f"the structure's narrowest form is over budget: "
                                              f"{limits.describe(raw)}")])
    return v


def fill(v: Mapping[str, Any], limits: Limits | int, epochs: int, name: str = "general",
         target: Target = MNIST) -> Filled:
    """Scale the sample's widths so that it uses as much of its tightest limit as the channel
    granularity allows, never more of any (a plain int: a parameter budget). Bisection on one
    width multiplier (every count grows with every width), then single channels added wherever
    they still fit."""
    limits = Limits(params=limits) if isinstance(limits, int) else limits
    v = fits_at_all(v, limits, target)
    base = base_widths(v)
    lo, hi = 0.0, 1.0
    while _usage(v, scaled(base, hi), target, limits) <= 1:
        hi *= 2
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _usage(v, scaled(base, mid), target, limits) <= 1 else (lo, mid)
    widths = scaled(base, lo)
    used = _used_keys(v) & set(widths)
    grown = True
    while grown:  # top up: one more channel where it still fits, widest slot first
        grown = False
        # ties by name: a set of strings iterates in an order that changes with PYTHONHASHSEED (seen:
        # the same point filled to two structures in two processes, a worker's and the finalizer's)
        for key in sorted(used, key=lambda k: (-widths[k], k)):
            trial = dict(widths, **{key: widths[key] + 1})
            if _usage(v, trial, target, limits) <= 1:
                widths, grown = trial, True
    raw, arch = _raw(v, widths, epochs, name, target)
    spec = load_spec(raw)
    usage = limits.usage(raw)
    assert usage <= 1, (usage, limits)  # the bisection above only accepts fitting widths
    return Filled(spec, count_params(spec), usage, arch)


def _used_keys(v: Mapping[str, Any]) -> set[str]:
    keys = {"stem"} | {f"w{s}" for s in range(1, v["stages"] + 1)}
    if v["convs1"] == 1:
        keys.discard("w1")
    if v["transition"] != "none":
        keys |= {f"t{s}" for s in range(1, v["stages"])}
    return keys


def smallest(space: Mapping[str, Any], target: Target = MNIST, dtype: str = "int8") -> dict[str, int]:
    """The least of each cost (params, MACs, flash and RAM bytes in `dtype`) over the space's
    smallest models for `target`: fewest stages and convs, narrowest widths, every categorical
    structure choice. `space` maps each key to its Dist."""
    low = {k: d.example() for k, d in space.items()}  # the low end of every range
    probe = Limits(flash=1, dtype=dtype)  # a byte limit: every cost is counted
    best: dict[str, int] = {}
    choices = [k for k in ("stem_k", "transition", "separable", "stem_stride") if k in space]
    for combo in itertools.product(*(space[k].categorical for k in choices)):
        v = dict(low, **dict(zip(choices, combo)), schedule="onecycle")
        costs = probe.costs(_raw(v, {k: MIN_WIDTH for k in base_widths(v)}, 1, "probe", target)[0])
        best = {k: min(best.get(k, c), c) for k, c in costs.items()}
    return best
