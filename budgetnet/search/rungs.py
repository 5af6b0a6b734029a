"""Successive halving over schedule length (asynchronous, as in ASHA: Li et al. 2018).

Every candidate first trains a complete short schedule (rung 0); whenever a candidate sits in
the top 1/eta of the finished trials of its rung, it is promoted: the same parameters and seed
run again as a new trial with the next rung's complete, longer schedule. A OneCycle or step
schedule that ends within its rung ranks configurations fairly ("Budgeted Training", Li, Yumer
& Ramanan 2020); a pruner reading a partial curve of the full schedule does not (a OneCycle run
looks weak near its peak learning rate). Each rung is its own Optuna trial, so the study records
every rung, and a worker that dies mid-rung loses only that rung.

Trial user attributes: `rung` (index into the rung list), `candidate` (number of the trial that
sampled the parameters) and `seed`.
"""
from __future__ import annotations

from dataclasses import dataclass

from optuna.trial import FrozenTrial

ETA = 3


def rung_epochs(max_epochs: int, count: int = 2) -> list[int]:
    """Schedule lengths from a fifth of the epoch budget to all of it, geometric in between:
    15 -> [3, 15] (count 2, the default), [3, 7, 15] (count 3).

    Two rungs by default: on two cores a 15-epoch trial of a 7K model takes ~7 minutes, and a
    middle rung delays the first full-length result by about as much again (measured in
    reports/bench: time to the first feasible trial is what a user waits for)."""
    first = max(1, round(max_epochs / 5))
    if count <= 1 or first >= max_epochs:
        return [max_epochs]
    ratio = (max_epochs / first) ** (1 / (count - 1))
    return sorted({first, *(round(first * ratio ** i) for i in range(1, count - 1)), max_epochs})


def parse_rungs(text: str, max_epochs: int) -> list[int]:
    """'2,5,15' -> [2, 5, 15]; strictly increasing, within the epoch budget (ValueError)."""
    try:
        epochs = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--rungs must be comma-separated epoch counts, got {text!r}") from None
    if not epochs or any(e < 1 for e in epochs) or epochs != sorted(set(epochs)):
        raise ValueError(f"--rungs must be increasing positive epoch counts, got {text!r}")
    if epochs[-1] > max_epochs:
        raise ValueError(f"--rungs: {epochs[-1]} epochs is over the epoch budget {max_epochs}")
    return epochs


@dataclass(frozen=True)
class Promotion:
    params: dict
    rung: int          # the rung it is promoted to
    candidate: int
    seed: int

    def user_attrs(self) -> dict:
        return {"rung": self.rung, "candidate": self.candidate, "seed": self.seed}


def next_promotion(trials: list[FrozenTrial], rungs: list[int], eta: int = ETA) -> Promotion | None:
    """The best candidate in the top 1/eta of a rung's finished trials that has not been
    promoted yet, looking at the highest rung first (finishing a candidate beats starting one)."""
    # a failed rung counts as started: an error would only repeat (interrupted trials are
    # re-enqueued by the search itself, with their rung)
    started = {(t.user_attrs.get("candidate"), t.user_attrs.get("rung")) for t in trials}
    for rung in reversed(range(len(rungs) - 1)):
        done = [t for t in trials if t.user_attrs.get("rung") == rung and t.user_attrs.get("status") == "complete"]
        done.sort(key=lambda t: (-t.user_attrs["val_acc"], t.user_attrs.get("params", 0)))
        for t in done[: len(done) // eta]:
            cand = t.user_attrs["candidate"]
            if (cand, rung + 1) not in started:
                return Promotion(dict(t.params), rung + 1, cand, t.user_attrs["seed"])
    return None
