"""A prior for the default search: what the project's committed studies observed, given to TPE
before the first trial.

`budgetnet prior` distils the rung-0 (3-epoch) observations of the committed MNIST studies of the
general family into `priors/general_mnist.json` (shipped; a test regenerates it and fails on
drift). `search --prior` adds them to a new study as finished trials with status `prior`: the
sampler learns from them, nothing else sees them (never trained, promoted, counted or a winner).
The family fills any budget, so a structure and recipe observed at 4,000 or 7,000 parameters say
something at another budget; the prior is for MNIST only. Not a warm start: no shipped model
runs, and `--no-warm-start --prior` is its own, labelled setting.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import optuna

from budgetnet import atomic
from budgetnet.errors import UsageError
from budgetnet.search.definition import SearchDef
from budgetnet.search.record import records

PRIOR_FILE = Path(__file__).parent / "priors" / "general_mnist.json"
# the committed default-search studies on MNIST (rungs 3, 15; the same space as `general`)
SOURCES = ("reports/search7k/default/study.db", "reports/search4k/default/study.db")
# their rung 0: the prior's readings are 3-epoch validation accuracies, so a search with the prior
# keeps a 3-epoch rung 0 (TPE compares them with the study's own readings)
PRIOR_EPOCHS = 3


def prior_rungs(max_epochs: int) -> list[int] | None:
    """The rungs a search with the prior runs when none are given (None: the default's)."""
    return [PRIOR_EPOCHS, max_epochs] if max_epochs > PRIOR_EPOCHS else None


def distil(root: Path) -> dict:
    """The rung-0 observations of the SOURCES studies under the repository `root`."""
    observations = []
    for source in SOURCES:
        url = f"sqlite:///{(root / source).resolve()}"
        for name in optuna.get_all_study_names(url):
            study = optuna.load_study(study_name=name, storage=url)
            for t, rec in records(study):
                if rec.complete and rec.rung == 0 and rec.candidate == t.number:
                    observations.append({"values": dict(t.params), "val_acc": rec.val_acc, "epochs": rec.epochs,
                                         "params": rec.params, "source": f"{source} trial {t.number}"})
    return {"family": "general", "data": "mnist", "sources": list(SOURCES), "observations": observations}


def write(root: Path) -> dict:
    """Distil and write the shipped prior; returns what was written."""
    prior = distil(root)
    atomic.write_json(PRIOR_FILE, prior)
    return prior


def check_applies(search: SearchDef, is_mnist: bool, rungs: list[int] | None = None) -> None:
    """--prior is for the general family on MNIST, with its 3-epoch rung 0 (UsageError otherwise)."""
    if search.family != "general" or not is_mnist:
        raise UsageError(f"--prior is distilled from MNIST studies of the general family: it does not apply to "
                         f"{search.name!r}{'' if is_mnist else ' on other data'}")
    if rungs and len(rungs) > 1 and rungs[0] != PRIOR_EPOCHS:
        raise UsageError(f"--prior's observations are {PRIOR_EPOCHS}-epoch readings: its first rung must be "
                         f"{PRIOR_EPOCHS} epochs (e.g. --rungs {PRIOR_EPOCHS},{rungs[-1]}), got --rungs "
                         f"{','.join(map(str, rungs))}")


def add_prior(study: optuna.Study, search: SearchDef) -> int:
    """Add the shipped observations to a new study as finished trials; returns how many."""
    added = 0
    for ob in json.loads(PRIOR_FILE.read_text())["observations"]:
        # the definition's own ranges (Dist.suggest) make the distributions; create_trial refuses a
        # value outside them, and such a point says nothing TPE can use
        fixed = optuna.trial.FixedTrial(ob["values"])
        try:
            with warnings.catch_warnings():  # FixedTrial warns of an out-of-range value before create_trial refuses it
                warnings.simplefilter("ignore", UserWarning)
                params = {name: dist.suggest(fixed, name) for name, dist in search.space.items()}
            trial = optuna.trial.create_trial(params=params, distributions=fixed.distributions, value=ob["val_acc"],
                                              user_attrs={"status": "prior", "reason": ob["source"],
                                                          "val_acc": ob["val_acc"], "epochs": ob["epochs"]})
        except ValueError:
            continue
        trial.set_constraint("params", 0.0)  # filled into its own budget: within it
        trial.set_constraint("accuracy", 0.0 if search.min_accuracy is None else search.min_accuracy - ob["val_acc"])
        study.add_trial(trial)
        added += 1
    return added
