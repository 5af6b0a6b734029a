"""The validation floor of the default search, fitted to what the project's confirmations measured.

A search selects on its validation split (5,000 images held out of the 60,000); a claim is the
median test accuracy of fresh seeds trained on all 60,000 (`budgetnet confirm --full-train`). The
two differ: the split reads lower than the test set, a confirmation trains on 9% more images,
and a search's winner is the best of many noisy readings, so its reading overstates it. The
committed pairs (a study's selected trial, its confirmation) measure that relation, and the floor
is the lowest validation reading whose predicted confirmed median reaches the target.

Model: confirmed median = a + b x validation (least squares), residuals normal with the fit's
standard deviation s; P(median >= target | reading v) = Phi((a + b v - target) / s). A slope below
one is the winner's curse (regression to the mean), not a defect of the fit. Every top rung is
fitted together: the pairs of a 5-epoch top rung are too few to fit alone, and their residuals
are read against the pooled fit (`by_epochs`).

`budgetnet floor` writes reports/floor/floor.json and floor.png; the default search's
`min_accuracy` is the floor written there (a test fails when they drift apart).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from budgetnet import atomic
from budgetnet.data.datasets import MNIST_FINGERPRINT
from budgetnet.errors import UsageError

TARGET = 0.994                 # the MNIST target, on test
VAL_IMAGES = 5000              # a validation reading moves in steps of 1/5,000
REPORT = Path("reports/floor")


def _mnist(record: dict) -> bool:
    """Whether a confirmation or search record trained on MNIST (records that name no data did)."""
    return (record.get("data") or {}).get("fingerprint", MNIST_FINGERPRINT) == MNIST_FINGERPRINT


def pairs(root: Path) -> list[dict]:
    """Every committed confirmation on all 60,000 MNIST images whose folder sits in a search's
    output (its summary.json beside or above it) and retrains that search's selected trial
    (same params, same epochs): the trial's validation reading and the confirmed median."""
    reports = Path(root) / "reports"
    if not reports.is_dir():
        raise UsageError(f"budgetnet floor reads the confirmations committed in a budgetnet checkout "
                         f"({reports.resolve()} is missing); run it from the repository root, or pass --root")
    found = []
    for confirm_file in sorted(reports.rglob("confirm.json")):
        confirm = json.loads(confirm_file.read_text())
        summary_file = confirm_file.parent.parent / "summary.json"
        if not (summary_file.is_file() and confirm.get("full_train") and confirm.get("train_images") == 60000
                and _mnist(confirm)):
            continue
        summary = json.loads(summary_file.read_text())
        best = summary.get("best") or {}
        if not _mnist(summary) or best.get("params") != confirm["params"] or best.get("val_acc") is None \
                or best.get("epochs", confirm["epochs"]) != confirm["epochs"]:
            continue
        found.append({"search": summary_file.parent.relative_to(root).as_posix(), "trial": best["trial"],
                      "params": confirm["params"], "epochs": confirm["epochs"],
                      "val_acc": round(best["val_acc"], 4), "median_test_acc": round(confirm["median_test_acc"], 4),
                      "seeds": len(confirm["seeds"])})
    return found


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def fit(found: list[dict], target: float = TARGET) -> dict:
    """The least-squares line through the pairs, the probability of reaching `target` at each
    validation reading near it, and the floor: the lowest reading (on the 5,000-image grid) whose
    predicted median is at least the target (a probability of at least one half)."""
    if len(found) < 4:
        raise UsageError(f"budgetnet floor: {len(found)} validation-vs-test pairs; a fit needs at least 4")
    v = np.array([p["val_acc"] for p in found])
    t = np.array([p["median_test_acc"] for p in found])
    b, a = np.polyfit(v, t, 1)
    s = float(np.std(t - (a + b * v), ddof=2))

    def p_reach(val: float) -> float:
        return _phi((a + b * val - target) / s)

    grid = [k / VAL_IMAGES for k in range(round((target - 0.002) * VAL_IMAGES), round((target + 0.002) * VAL_IMAGES) + 1)]
    floor = next(g for g in grid if a + b * g >= target)
    by_epochs = {}
    for e in sorted({p["epochs"] for p in found}):
        res = [p["median_test_acc"] - (a + b * p["val_acc"]) for p in found if p["epochs"] == e]
        by_epochs[str(e)] = {"pairs": len(res), "mean_residual": round(float(np.mean(res)), 5)}
    return {"target": target, "pairs": found, "intercept": round(float(a), 6), "slope": round(float(b), 6),
            "residual_sd": round(s, 6), "correlation": round(float(np.corrcoef(v, t)[0, 1]), 4),
            "mean_offset": round(float(np.mean(t - v)), 5), "by_epochs": by_epochs,
            "p_reach": {f"{g:.4f}": round(p_reach(g), 3) for g in grid},
            "floor": round(floor, 4), "p_reach_at_floor": round(p_reach(floor), 3),
            "misread": [p["search"] for p in found if (p["val_acc"] >= floor) != (p["median_test_acc"] >= target)]}


def write(root: Path, out: Path | None = None) -> dict:
    """Fit the committed pairs and write floor.json and floor.png under OUT (default reports/floor)."""
    from budgetnet.search.plots import floor_plot

    result = fit(pairs(root))
    out = Path(out) if out else Path(root) / REPORT
    atomic.make_dir(out)
    atomic.write_json(out / "floor.json", result)
    floor_plot(result, out / "floor.png")
    return result
