"""A prior for the default search: what the project's committed studies observed, given to TPE
before the first trial.

`budgetnet prior` distils the rung-0 observations of the committed MNIST studies of the general
family into `priors/general_mnist_1ep.json` (studies whose rung 0 is one epoch, today's default)
and `priors/general_mnist_3ep.json` (3 epochs, for a 3-epoch rung 0): shipped; a
test regenerates them and fails on drift. `search --prior` adds the one read at the study's rung-0
epochs to a new study as finished trials with status `prior`: the sampler learns from them,
nothing else sees them (never trained, promoted, counted or a winner).
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
from budgetnet.search.storage import committed_study

PRIORS = Path(__file__).parent / "priors"
# the committed default-search studies on MNIST (the same space as `general`), by the epochs of
# their rung 0: a search with the prior reads its rung 0 at the epochs of the prior it starts from
# (TPE compares the prior's readings with the study's own)
SOURCES = {
    1: ("reports/search_power/7k/default/study.db", "reports/search_power/5k/default/study.db",
        "reports/search_power/5k/rungs-1-7-15/study.db"),
    3: ("reports/search7k/default/study.db", "reports/search4k/default/study.db"),
}


def prior_file(epochs: int) -> Path:
    return PRIORS / f"general_mnist_{epochs}ep.json"


def prior_rungs(default: list[int]) -> list[int]:
    """The rungs a search with the prior runs when none are given: the default's, with rung 0 at
    the nearest epoch count a prior was read at when the default's has none."""
    if len(default) < 2 or default[0] in SOURCES:
        return default
    nearest = min((e for e in SOURCES if e < default[-1]), key=lambda e: abs(e - default[0]), default=None)
    return default if nearest is None else [nearest, *default[1:]]


def distil(root: Path, epochs: int) -> dict:
    """The rung-0 observations (read after `epochs`) of the SOURCES studies under the repository
    `root`; a point two studies read alike (the same sampler seed's first trials) counted once."""
    observations, seen = [], set()
    for source in SOURCES[epochs]:
        url = committed_study(root, source, "budgetnet prior")
        for name in optuna.get_all_study_names(url):
            study = optuna.load_study(study_name=name, storage=url)
            for t, rec in records(study):
                key = (json.dumps(t.params, sort_keys=True), rec.params, rec.val_acc)
                if rec.complete and rec.rung == 0 and rec.candidate == t.number and rec.epochs == epochs \
                        and key not in seen:
                    seen.add(key)
                    observations.append({"values": dict(t.params), "val_acc": rec.val_acc, "epochs": rec.epochs,
                                         "params": rec.params, "source": f"{source} trial {t.number}"})
    return {"family": "general", "data": "mnist", "epochs": epochs, "sources": list(SOURCES[epochs]),
            "observations": observations}


def write(root: Path) -> dict[int, dict]:
    """Distil and write the shipped priors (one per rung-0 epoch count); returns what was written."""
    priors = {epochs: distil(root, epochs) for epochs in SOURCES}
    for epochs, prior in priors.items():
        atomic.write_json(prior_file(epochs), prior)
    return priors


def why_not(search: SearchDef, is_mnist: bool, rungs: list[int]) -> str | None:
    """Why the prior does not apply to this search (None: it does). It is for the general family
    on MNIST, with a rung 0 (of the rungs the search runs) a prior was read at."""
    if search.family != "general" or not is_mnist:
        return (f"--prior is distilled from MNIST studies of the general family: it does not apply to "
                f"{search.name!r}{'' if is_mnist else ' on other data'}")
    if rungs[0] not in SOURCES:
        ok = " or ".join(map(str, sorted(SOURCES)))
        return (f"--prior's observations are {ok}-epoch readings: its first rung must be {ok} epochs "
                f"(e.g. --pruner rungs --rungs {min(SOURCES)},{rungs[-1]}); this search's rungs are "
                f"{','.join(map(str, rungs))}")
    observed = {name for ob in json.loads(prior_file(rungs[0]).read_text())["observations"] for name in ob["values"]}
    unseen = sorted(set(search.space) - observed)
    if unseen:  # every observation would be refused (a point must set every searched value): TPE would start bare
        return (f"--prior's observations set no {', '.join(unseen)}, which this search also samples "
                f"({'--max-ram adds it' if unseen == ['stem_stride'] else 'a space the prior was not read in'}): "
                f"search without --prior")
    return None


def check_applies(search: SearchDef, is_mnist: bool, rungs: list[int]) -> None:
    """Refuse --prior where it does not apply (UsageError)."""
    why = why_not(search, is_mnist, rungs)
    if why:
        raise UsageError(why)


def add_prior(study: optuna.Study, search: SearchDef, epochs: int) -> int:
    """Add the shipped observations read after `epochs` (the study's rung 0, one of SOURCES as
    check_applies made sure) to a new study as finished trials; returns how many."""
    added = 0
    for ob in json.loads(prior_file(epochs).read_text())["observations"]:
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
