"""The search's sampler: quasi-random (Sobol) start-up points, then TPE.

Uniform random start-up trials leave holes and clumps in a 20-dimensional space; a scrambled
Sobol sequence spreads the first candidates evenly (Optuna's QMCSampler; every worker draws the
next points of one shared sequence). After `startup` trained candidates of this study, TPE
(multivariate) takes over. A prior (budgetnet.search.prior) gives TPE past observations from
the start, so a study with a prior starts with TPE.
"""
from __future__ import annotations

import warnings

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import TrialState

from budgetnet.search.record import TrialRecord

STARTUP = 6   # trained candidates drawn from the Sobol sequence before TPE


class SobolThenTPE(BaseSampler):
    """Sobol points while fewer than `startup` of the study's own trials completed, TPE after.
    The choice is made once per trial (before_trial): another worker finishing mid-trial cannot
    switch samplers between a trial's parameters."""

    def __init__(self, seed: int, worker: int = 0, startup: int = STARTUP):
        # one Sobol sequence per study (same seed and scramble in every worker, a shared counter)
        with warnings.catch_warnings():  # "QMCSampler is experimental": the choice is ours, not the user's
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # before any trial completes (the sequence's dimensions are read off the first one) each
            # worker draws uniformly with its own seed: with one seed, workers started together would
            # train identical candidates side by side
            self.sobol = optuna.samplers.QMCSampler(
                qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False,
                warn_asynchronous_seeding=False, independent_sampler=optuna.samplers.RandomSampler(seed + 1000 * worker))
        # each worker its own TPE stream, for the same reason (seen: identical candidates side by side)
        self.tpe = optuna.samplers.TPESampler(seed=seed + 1000 * worker, n_startup_trials=5, multivariate=True)
        self.startup = startup
        self._chosen: dict[int, BaseSampler] = {}

    def _pick(self, study: optuna.Study) -> BaseSampler:
        if self.startup <= 0:
            return self.tpe
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        own = sum(TrialRecord.of(t).complete for t in done)  # a prior's observations do not count
        return self.sobol if own < self.startup else self.tpe

    def _for(self, trial) -> BaseSampler:
        return self._chosen.get(trial.number, self.tpe)

    def before_trial(self, study, trial) -> None:
        self._chosen[trial.number] = self._pick(study)
        self._for(trial).before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._chosen.pop(trial.number, self.tpe).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sobol.reseed_rng()
        self.tpe.reseed_rng()


def make_sampler(seed: int, worker: int, startup: str, prior: bool) -> BaseSampler:
    """`startup`: random (TPE's own uniform start-up, the default) or sobol."""
    if startup == "random":
        return optuna.samplers.TPESampler(seed=seed + 1000 * worker, n_startup_trials=5, multivariate=True)
    return SobolThenTPE(seed, worker, startup=0 if prior else STARTUP)
