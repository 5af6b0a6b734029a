"""A retrain from scratch, finished sooner when a second core frees up: a relay over waypoints.

A run that kept its checkpoint at the end of epoch k (`budgetnet train --keep-epochs`) is a
waypoint: a run resumed from it continues that run exactly (same losses, same weights). A
retrain from scratch that arrives at epoch k in a state bit for bit the waypoint's has shown
that the waypoint is what training from scratch gives on this machine; the rest of the schedule,
trained from the waypoint meanwhile on the other core, is then the rest of this retrain.

The relay starts leg 1 (the retrain from scratch) at once. `wait()`, called when the other core
is free (CI: the rest of the suite is done), starts leg 2 from the waypoint that makes the two
legs end soonest, and stops leg 1 once it has arrived there in the same state. A leg 1 that
arrives in another state (this machine computes differently) trains on to the end itself: the
result is always the retrain from scratch's, only sooner when the arithmetic matches.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import torch

from budgetnet import atomic
from budgetnet.errors import CheckpointError
from budgetnet.training.checkpoint import read_checkpoint
from budgetnet.training.runs import TrainProcess, waypoint
from budgetnet.training.spread import Setting, start_setting

_TIMING = {"seconds", "images_per_s"}  # what differs between two runs of the same arithmetic


def same_state(a: Path, b: Path) -> bool:
    """Whether two checkpoints hold the same resume state bit for bit (weights, optimizer,
    scheduler, RNGs, weight average, loss history), timings aside."""
    def same(x, y) -> bool:
        if isinstance(x, torch.Tensor):
            return isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(k in _TIMING or same(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)):
            return type(x) is type(y) and len(x) == len(y) and all(map(same, x, y))
        return x == y
    first, second = read_checkpoint(a).get("resume"), read_checkpoint(b).get("resume")
    if first is None or second is None:
        return False
    for state in (first, second):  # a run recorded without an engine trained on the reference one
        state["metrics"].setdefault("engine", "reference")
    return same(first, second)


def waypoints_in(folder: Path) -> dict[int, Path]:
    """The waypoints (epochNN.pt) a folder holds, by epoch; none when there is no folder."""
    paths = sorted(Path(folder).glob("epoch[0-9][0-9].pt"))  # none when there is no folder
    return {int(path.stem.removeprefix("epoch")): path for path in paths}


class Relay:
    """`epochs` epochs of SPEC under `setting` from scratch into OUT/<setting> (leg 1), resumed
    from one of `waypoints` into OUT/from-epochNN/<setting> (leg 2) when `wait()` is called."""

    def __init__(self, spec_path: Path, out: Path, seed: int, setting: Setting, full_train: bool, epochs: int,
                 waypoints: dict[int, Path], subset: int | None = None):
        self.args = (spec_path, seed, setting, full_train, subset)
        self.out, self.epochs, self.waypoints = Path(out), epochs, {k: p for k, p in waypoints.items() if k < epochs}
        self.leg1 = start_setting(spec_path, self.out, seed, setting, full_train, subset, keep_epochs=self.waypoints)
        self.leg2: TrainProcess | None = None
        self.started = time.time()
        self.split_at: int | None = None  # the waypoint leg 2 ran from, once leg 1 arrived there in its state
        self.note = "not split: no waypoint"

    def wait(self) -> Path:
        """The finished run's folder: leg 2's when leg 1 arrived at its waypoint in the same state,
        leg 1's otherwise."""
        k = self._balanced_split()
        if k is None:
            if self.waypoints:
                self.note = "not split: leg 1 was as near its end as a split would make it"
            return self.leg1.wait()
        self.leg2 = self._start_leg2(k)
        arrived = self._arrival(k)
        if arrived is not None and same_state(arrived, self.waypoints[k]):
            self.leg1.stop()
            self.split_at, self.note = k, f"split at epoch {k}: leg 1 arrived at the waypoint bit for bit"
            return self.leg2.wait()
        self.leg2.stop()
        self.note = f"not split: leg 1's epoch {k} differs from the waypoint's (another arithmetic); it trained on"
        return self.leg1.wait()

    def stop(self) -> None:
        """End both legs if they still train (an interrupted session does not leave them running)."""
        for leg in (self.leg1, self.leg2):
            if leg is not None:
                leg.stop()

    def _start_leg2(self, k: int) -> TrainProcess:
        spec_path, seed, setting, full_train, subset = self.args
        out = self.out / f"from-epoch{k:02d}"
        if not (out / setting.name / "checkpoint.pt").is_file():  # a copy: leg 2 writes its own checkpoints
            with atomic.atomic_path(out / setting.name / "checkpoint.pt") as tmp:
                shutil.copyfile(self.waypoints[k], tmp)
        return start_setting(spec_path, out, seed, setting, full_train, subset)

    def _arrival(self, k: int) -> Path | None:
        """Leg 1's checkpoint at the end of epoch k, once it is there; None when leg 1 ended first."""
        path = waypoint(self.leg1.run_dir, k)
        while not path.is_file():
            if not self.leg1.running:
                return path if path.is_file() else None
            time.sleep(1.0)
        return path

    def _balanced_split(self) -> int | None:
        """The waypoint that ends both legs soonest, from leg 1's pace so far; None when no split
        beats leg 1 going on alone."""
        done, pace, into = self._progress()
        alone = (self.epochs - done) * pace - into
        finish = {k: max((k - done) * pace - into, 0.0, (self.epochs - k) * pace) for k in self.waypoints}
        best = min(finish, key=finish.get, default=None)
        return best if best is not None and finish[best] < alone else None

    def _progress(self) -> tuple[int, float, float]:
        """Leg 1's epochs done, seconds per epoch, and seconds into the epoch it is in."""
        path = self.leg1.run_dir / "checkpoint.pt"
        try:
            metrics = read_checkpoint(path)["metrics"]
            done, seconds = int(metrics["epochs"]), float(metrics["seconds"])
        except (CheckpointError, KeyError, TypeError, ValueError):
            done, seconds = 0, 0.0
        if done == 0:  # no epoch yet: its pace is at least the time it has run
            return 0, max(time.time() - self.started, 1.0), 0.0
        return done, seconds / done, max(0.0, time.time() - os.path.getmtime(path))

