"""A study against wall time: when each trained trial finished, the best validation accuracy
so far, and the time to the first feasible trial (validation >= the floor, within budget).
It answers "how long until the search found one", for the search report and `bench search`."""
from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from budgetnet.search.record import is_feasible, records


@dataclass(frozen=True)
class Point:
    trial: int
    rung: int
    epochs: int
    params: int
    seconds: float       # since the study's first trial started
    val_acc: float


@dataclass(frozen=True)
class Timeline:
    points: tuple[Point, ...]     # trained and complete, in order of finishing
    wall_seconds: float           # first trial start to last trial end
    first_feasible_s: float | None
    trained: int = 0              # trials that trained: complete and pruned ones

    def best_val_at(self, minutes) -> dict[int, float | None]:
        """Best validation accuracy among trials finished within each number of minutes."""
        return {m: max((p.val_acc for p in self.points if p.seconds <= 60 * m), default=None) for m in minutes}

    def trials_per_hour(self) -> float:
        """Trained trials (a pruned one too, a rung each) per hour of wall time."""
        return 3600 * self.trained / self.wall_seconds if self.wall_seconds > 0 else 0.0


def timeline(study: optuna.Study, floor: float, max_params: int | None) -> Timeline:
    trials = [(t, rec) for t, rec in records(study) if t.datetime_start is not None]
    if not trials:
        return Timeline((), 0.0, None)
    start = min(t.datetime_start for t, _ in trials)
    ended = [t.datetime_complete for t, _ in trials if t.datetime_complete is not None]
    wall = (max(ended) - start).total_seconds() if ended else 0.0
    points = sorted((Point(t.number, rec.rung, rec.epochs or 0, rec.params or 0,
                           (t.datetime_complete - start).total_seconds(), rec.val_acc)
                     for t, rec in trials if t.state == TrialState.COMPLETE and rec.complete),
                    key=lambda p: p.seconds)
    feasible = [p.seconds for p in points if is_feasible(p.val_acc, p.params, floor, max_params)]
    return Timeline(tuple(points), wall, min(feasible) if feasible else None, sum(rec.trained for _, rec in trials))
