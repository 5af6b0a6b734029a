"""What `budgetnet search` shows while it runs: a line per finished trial, each epoch of a
trial still training, and at a terminal a live bar with the time left."""
from __future__ import annotations

import threading
import time

from budgetnet.cli.common import console
from budgetnet.search.record import TrialRecord, TrialStatus, is_feasible, records, status_of, wilson


def interval_text(acc: float, n: int | None, short: bool = False) -> str:
    """' (95% interval 99.14-99.58% on 5,000 images)', or '' when the validation size is unknown."""
    if not n:
        return ""
    lo, hi = wilson(acc, n)
    return f" ({100 * lo:.2f}-{100 * hi:.2f})" if short else f" (95% interval {100 * lo:.2f}-{100 * hi:.2f}% on {n:,} images)"


class TrialReport:
    """One line per finished trial (also into a file), and at a terminal a live bar with the
    elapsed time and the time left."""

    def __init__(self, floor: float | None, budget: int | None, start: float, timeout: float | None, trials: int | None,
                 val_images: int | None = None):
        self.floor, self.budget, self.start, self.timeout, self.trials = floor, budget, start, timeout, trials
        self.val_images = val_images  # each trial's val is shown with its 95% interval on these images
        self.best: float | None = None
        self.trained = 0
        self.first_feasible: float | None = None
        self.progress = self.task = None
        self.training: dict[int, str] = {}  # trial number -> its last epoch, while it trains
        self._stop = threading.Event()

    def __enter__(self):
        if console.is_terminal and (self.timeout or self.trials):
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), TimeElapsedColumn(),
                                     TextColumn("left"), TimeRemainingColumn(), console=console, transient=True)
            self.task = self.progress.add_task(self._description(), total=self.timeout or self.trials)
            self.progress.start()
            if self.timeout:
                threading.Thread(target=self._tick, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.progress:
            self.progress.stop()
        return False

    def _tick(self):
        while not self._stop.wait(1.0):
            self.progress.update(self.task, completed=min(time.perf_counter() - self.start, self.timeout))

    def _description(self) -> str:
        best = f"best val {100 * self.best:.2f}%" if self.best is not None else "no trial finished yet"
        training = "".join(f"; {text}" for text in self.training.values())
        return f"{self.trained} trained, {best}{training}"

    def on_progress(self, number: int, rung: int, live: dict) -> None:
        """A trial still training finished an epoch: at a terminal the bar says so; in a log, a
        line per epoch before its last (the trial's own line follows that one)."""
        val = f" val {100 * live['val_acc']:.2f}%" if live.get("val_acc") is not None else ""
        text = f"trial {number} rung {rung} epoch {live['epoch']}/{live['epochs']}{val}"
        if live["epoch"] >= live["epochs"]:
            self.training.pop(number, None)
        else:
            self.training[number] = text
        if self.progress:
            self.progress.update(self.task, description=self._description())
        elif live["epoch"] < live["epochs"]:  # the last epoch's line is the trial's own
            elapsed = time.perf_counter() - self.start
            console.print(f"  [{elapsed / 60:5.1f} min]   {text}", markup=False, highlight=False)

    def on_trial(self, study, trial):
        if self.best is None:  # a resumed study: "best" counts every finished trial of the study
            done = [r.val_acc for _, r in records(study) if r.complete and r.val_acc is not None]
            self.best = max(done) if done else None
        rec = TrialRecord.of(trial)
        status = status_of(trial)
        self.training.pop(trial.number, None)
        if status == TrialStatus.DEFERRED:  # not trained; the summary counts them
            return
        elapsed = time.perf_counter() - self.start
        if rec.complete:
            self.best = rec.val_acc if self.best is None else max(self.best, rec.val_acc)
            if self.first_feasible is None and is_feasible(rec.val_acc, rec.params, self.floor, self.budget):
                self.first_feasible = elapsed
        self.trained += rec.trained
        acc = f"val {100 * rec.val_acc:.2f}%{interval_text(rec.val_acc, self.val_images, short=True)}" \
            if rec.val_acc is not None else ""
        fill = f"fill {rec.fill:.2f}" if rec.fill is not None else ""
        extra = rec.reason if status in (TrialStatus.OVER_BUDGET, TrialStatus.INVALID, TrialStatus.FAILED) else f"{rec.seconds:.0f}s"
        line = (f"  [{elapsed / 60:5.1f} min] trial {trial.number:>3} rung {rec.rung} ({rec.epochs or '?'} ep) "
                f"{status:<11} params {rec.params or 0:>6,} {fill:<9} {acc:<28} {extra}"
                + (f"  best {100 * self.best:.2f}%" if self.best is not None else "")
                + ("  FEASIBLE" if self.first_feasible == elapsed else ""))
        (self.progress.console if self.progress else console).print(line, markup=False, highlight=False)
        if self.progress:
            self.progress.update(self.task, description=self._description(),
                                 **({} if self.timeout else {"completed": self.trained}))
