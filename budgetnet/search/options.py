"""What one `budgetnet search` command asks for: its choices and options (no heavy imports, so
the command line can name them)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Objective(str, Enum):
    accuracy = "accuracy"   # the best validation accuracy
    pareto = "pareto"       # validation accuracy against parameters


class Pruner(str, Enum):
    rungs = "rungs"         # successive halving over whole schedules (budgetnet.search.rungs)
    quartile = "quartile"   # the bottom 25% at its epoch, after two thirds of the epochs
    median = "median"
    hyperband = "hyperband"
    none = "none"


class Startup(str, Enum):
    sobol = "sobol"         # quasi-random start-up points, then TPE (budgetnet.search.sampler)
    random = "random"       # TPE's own uniform random start-up (the default)


class Augment(str, Enum):
    digits = "digits"       # rotations and shifts; never mirror images (a mirrored digit is another symbol)
    natural = "natural"     # mirror images and shifts (crops)
    none = "none"


@dataclass
class SearchOptions:
    out: Path
    trials: int | None = 20          # trained trials (over-budget samples do not count)
    timeout: float | None = None     # seconds
    storage: str | None = None       # default: sqlite:///OUT/study.db
    study_name: str | None = None
    workers: int = 1
    epochs: int | None = None        # override every trial's epochs (smoke runs)
    subset: int | None = None
    seed: int = 0
    backend: str | None = None
    device: str | None = None
    objective: Objective = Objective.accuracy
    pruner: Pruner = Pruner.rungs
    rungs: tuple[int, ...] | None = None  # rung epochs; default budgetnet.search.rungs.rung_epochs(max epochs)
    warm_start: bool = True          # run the definition's reference configs first
    enqueue: tuple[dict, ...] = ()   # points of the space to run first (search --enqueue FILE)
    threads: int | None = None       # torch threads per worker; default cores // workers
    worker: int = 0                  # index of this worker process (its sampler's seed is seed + 1000 * worker)
    data: str | None = None          # what --data names (None: the embedded MNIST)
    heartbeat: int | None = 10       # seconds; a dead worker's trial is retried (budgetnet.search.storage)
    storage_patience: float = 300.0  # seconds a worker waits for a study database that stopped answering
    # levers off by default: one 30-minute benchmark each did not measure them better (reports/search_power)
    cost_ramp: float = 0.0           # seconds of cost-aware start (budgetnet.search.cost); 0: off
    startup: Startup = Startup.random
    prior: bool = False              # TPE starts from the committed studies' observations (search.prior)

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.out / 'study.db').resolve()}"
