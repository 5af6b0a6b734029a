"""One search trial's record, typed: what the trial was, what it did and how it ended.

Optuna keeps it as the trial's user attributes; `TrialRecord.of` and `TrialRecord.save` are the
one mapping between the two, so the search, rungs, timeline, reports and the command line read
fields, never attribute strings. The attribute names are the field names.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Any


class TrialStatus(str, Enum):
    """How a trial ended (kept in the study as its string: records read and compare the same)."""
    COMPLETE = "complete"
    PRUNED = "pruned"
    OVER_BUDGET = "over_budget"   # counted from the spec over a limit: never built, never trained
    DEFERRED = "deferred"         # the cost-aware start held it back: not trained
    INVALID = "invalid"           # the sampled point makes no valid spec
    INTERRUPTED = "interrupted"   # Ctrl-C: a resumed search runs it again
    PRIOR = "prior"               # an observation of the prior, not a trial of this study
    FAILED = "failed"             # an error, recorded as the trial's reason

    __str__ = str.__str__


TRAINED = (TrialStatus.COMPLETE, TrialStatus.PRUNED)  # statuses of trials that actually trained


@dataclass(frozen=True)
class TrialRecord:
    # set when the trial starts
    rung: int = 0                     # index into the study's rung list
    candidate: int | None = None      # the trial that sampled these parameters (itself at rung 0)
    seed: int | None = None           # the training seed, the same at every rung of a candidate
    warm_start: bool = False          # a shipped reference enqueued by the warm start
    retry_of: int | None = None       # the interrupted trial this one runs again
    # counted from the spec before anything is built
    params: int | None = None
    macs: int | None = None
    epochs: int | None = None         # the rung's complete schedule
    fill: float | None = None         # params / budget
    arch: str = ""                    # the structure in one line
    predicted_s: float | None = None  # predicted top-rung training seconds (budgetnet.search.cost)
    # how it ended
    status: str | None = None         # a TrialStatus; None while running
    reason: str = ""                  # why it was not trained, or its error
    seconds: float = 0.0              # training seconds
    epochs_run: int = 0
    val_acc: float | None = None      # final-epoch validation accuracy
    best_val_acc: float | None = None

    @classmethod
    def of(cls, trial) -> "TrialRecord":
        """The record of an Optuna trial (frozen or live); unknown attributes are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in trial.user_attrs.items() if k in known})

    def save(self, trial, **changes: Any) -> "TrialRecord":
        """Write `changes` into the trial's attributes and return the updated record."""
        for key, value in changes.items():
            trial.set_user_attr(key, value)
        return replace(self, **changes)

    def start_attrs(self) -> dict:
        """The attributes a rerun or a promotion carries over to a new trial."""
        # `is not`: candidate 0 and seed 0 are values (0 == False would drop them, and candidate 0
        # was then promoted again and again, each time with another seed)
        return {k: v for k, v in asdict(self).items()
                if k in ("rung", "candidate", "seed", "warm_start", "retry_of") and v is not None and v is not False}

    @property
    def trained(self) -> bool:
        return self.status in TRAINED

    @property
    def complete(self) -> bool:
        return self.status == TrialStatus.COMPLETE


@dataclass(frozen=True)
class StudyRecord:
    """What a study records about itself once, when it is created (Optuna's study user attributes):
    the search, its budget and floor, the rung schedule and whether the warm start ran."""
    search: str | None = None
    budget: dict | None = None
    min_accuracy: float | None = None
    rungs: list | None = None
    warm_start: bool | None = None
    prior: bool | None = None         # TPE started from the shipped prior (budgetnet.search.prior)
    startup: str | None = None        # sobol | random (None: a study from before: random)
    cost_ramp: float | None = None    # seconds of cost-aware start (None: a study from before: none)
    engine: str | None = None         # the training engine its trials ran (None: a study from before: reference)
    distill: dict | None = None       # the teacher its trials learned from (a DistillCfg; None: none)

    @property
    def trial_engine(self) -> str:
        """The engine every trial of the study runs, resumed or not, whatever the default is now."""
        return self.engine or "reference"

    @classmethod
    def of(cls, study) -> "StudyRecord":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in study.user_attrs.items() if k in known})

    def save(self, study) -> None:
        for key, value in asdict(self).items():
            study.set_user_attr(key, value)


def wilson(acc: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson interval of an accuracy measured on n images: how far the truth may be
    from one validation reading (99.4% on 5,000 images: 99.14-99.58%; one standard error is
    0.11 points)."""
    if n <= 0:
        return 0.0, 1.0
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((acc * (1 - acc) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def status_of(trial) -> str:
    """The record's status, or the trial's state where the record has none (running, failed)."""
    status = TrialRecord.of(trial).status
    if status:
        return status
    return TrialStatus.FAILED if trial.state.name == "FAIL" else trial.state.name.lower()


def records(study) -> list[tuple[Any, TrialRecord]]:
    """(frozen trial, record) for every trial the study ran, in trial order (a prior's
    observations, budgetnet.search.prior, are the sampler's only)."""
    pairs = ((t, TrialRecord.of(t)) for t in study.get_trials(deepcopy=False))
    return [(t, rec) for t, rec in pairs if rec.status != TrialStatus.PRIOR]


def is_feasible(val_acc: float | None, params: int | None, floor: float | None, max_params: int | None) -> bool:
    """Validation at or above the floor, within the budget. With no floor nothing is feasible
    by accuracy: the search maximises validation accuracy and "first feasible" reads n/a.
    A reading is a float32 count / images: 4,965 / 5,000 reads 0.99299997, so equal within 1e-6 counts."""
    return (floor is not None and val_acc is not None and val_acc >= floor - 1e-6
            and (max_params is None or (params or 0) <= max_params))
