"""Figures of a search: the best validation accuracy against wall time, and the Pareto front."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from budgetnet.atomic import save_figure
from budgetnet.figures import pyplot
from budgetnet.search.record import TrialStatus


def search_history(tl, path: str | Path, title: str, floor: float | None = None) -> None:
    """Best validation accuracy against wall time, every finished trial marked by its rung:
    the picture that answers "how long until it found one"."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    points = sorted(tl.points, key=lambda p: p.seconds)
    rungs = sorted({p.rung for p in points})
    cmap = plt.get_cmap("viridis", max(len(rungs), 1))
    for i, rung in enumerate(rungs):
        sub = [p for p in points if p.rung == rung]
        ax.scatter([p.seconds / 60 for p in sub], [100 * p.val_acc for p in sub], color=cmap(i), s=22,
                   label=f"rung {rung}: {sub[0].epochs} epochs ({len(sub)} trials)")
    if points:
        best, xs, ys = 0.0, [0.0], [None]
        for p in points:
            best = max(best, p.val_acc)
            xs.append(p.seconds / 60)
            ys.append(100 * best)
        xs.append(tl.wall_seconds / 60)
        ys.append(100 * best)
        ax.step(xs[1:], ys[1:], where="post", color="tab:red", label="best so far")
        # from the lower quartile to the best (or the floor): the race at the top, at any accuracy
        lows = sorted(100 * p.val_acc for p in points)
        top = max(lows[-1], 100 * (floor or 0))
        span = max(top - lows[len(lows) // 4], 0.5)
        ax.set_ylim(max(lows[len(lows) // 4] - 0.3 * span, 0.0), min(top + 0.1 * span, 100.5))
    if floor:
        ax.axhline(100 * floor, color="black", linestyle="--", linewidth=0.8, label=f"floor {100 * floor:.2f}%")
    if tl.first_feasible_s is not None:
        ax.axvline(tl.first_feasible_s / 60, color="tab:green", linewidth=0.8,
                   label=f"first feasible: {tl.first_feasible_s / 60:.1f} min")
    _finish(plt, fig, ax, path, title, "wall time (minutes)")


def search_pareto(df, path: str | Path, title: str, budget: int | None) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if not df.empty:
        done = df[(df["status"] == TrialStatus.COMPLETE) & df["val_acc"].notna()]
        pruned = df[(df["status"] == TrialStatus.PRUNED) & df["val_acc"].notna()]
        ax.scatter(done["params"], 100 * done["val_acc"], c="tab:blue", alpha=0.7, label="complete trials")
        ax.scatter(pruned["params"], 100 * pruned["val_acc"], c="tab:gray", marker="x", alpha=0.6,
                   label="pruned (accuracy when stopped)")
        front = done.sort_values("params")
        front = front[front["val_acc"] >= front["val_acc"].cummax()]
        ax.step(front["params"], 100 * front["val_acc"], where="post", color="tab:red", label="Pareto front (complete)")
        over = df[df["status"] == TrialStatus.OVER_BUDGET]
        floor = df["val_acc"].min()
        if not over.empty and pd.notna(floor):
            ax.scatter(over["params"], [100 * floor] * len(over), marker="|", s=200, color="black",
                       label="over budget (never trained)")
    if budget:
        ax.axvline(budget, color="black", linestyle="--", linewidth=1, label=f"budget {budget:,}")
    _finish(plt, fig, ax, path, title, "parameters")


def _finish(plt, fig, ax, path, title: str, xlabel: str) -> None:
    """Both search figures: validation accuracy against `xlabel`, legend bottom right, saved atomically."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def floor_plot(fit: dict, path: str | Path) -> None:
    """The committed pairs (a search's selected trial: its validation reading, its confirmed median
    test accuracy), the fitted line, the target and the floor it gives (budgetnet.search.floor)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    by_epochs = sorted({p["epochs"] for p in fit["pairs"]})
    for epochs, marker in zip(by_epochs, "osD^v"):
        sub = [p for p in fit["pairs"] if p["epochs"] == epochs]
        ax.scatter([100 * p["val_acc"] for p in sub], [100 * p["median_test_acc"] for p in sub], marker=marker,
                   s=30, label=f"{epochs}-epoch top rung ({len(sub)})")
    vals = [100 * p["val_acc"] for p in fit["pairs"]]
    xs = [min(vals) - 0.05, max(vals) + 0.05]
    a, b = 100 * fit["intercept"], fit["slope"]
    ax.plot(xs, [a + b * x for x in xs], color="tab:red",
            label=f"fit: median = {b:.2f} x val + {a:.1f} (sd {100 * fit['residual_sd']:.3f})")
    ax.plot(xs, xs, color="gray", linewidth=0.6, linestyle=":", label="test = validation")
    ax.axhline(100 * fit["target"], color="black", linestyle="--", linewidth=0.8, label=f"target {100 * fit['target']:.2f}% test")
    ax.axvline(100 * fit["floor"], color="tab:green", linestyle="--", linewidth=0.8,
               label=f"floor {100 * fit['floor']:.2f}% val (P reach {fit['p_reach_at_floor']:.2f})")
    ax.set_xlabel("selected trial's validation accuracy (%), 5,000 images")
    ax.set_ylabel("confirmed median test accuracy (%), fresh seeds, 60,000 images")
    ax.set_title("Validation floor of the default search")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
