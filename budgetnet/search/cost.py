"""What a trial will cost, known before it trains, and the cost-aware start of a search.

A trial's training seconds are predicted from its spec alone: a linear model in MACs and
activation elements per image (batch norm, ReLU and max pool touch every activation and cost
as much as the convs on a CPU; depthwise convs do few MACs per activation). Fitted on the 68
trained trials of the committed general-family studies (reports/search7k/default,
reports/search7k/general-quartile, reports/search4k/default; one thread per worker, 55,000
training images): R^2 0.82 and rank correlation 0.90 with the measured seconds per epoch, where
MACs alone give R^2 0.50 (`budgetnet bench cost` refits and prints both; a test fails when the
constants drift from the fit). The seconds are the machine's the studies ran on; only their order
matters below.

The cost-aware start: for the first `ramp` seconds of a study, a new sample whose predicted
top-rung time is above a quantile of the family's costs at this budget (40 uniform draws,
filled and counted, nothing trained) is deferred (never trained, never shown to the sampler);
the quantile rises from the median at the start to the maximum at the end of the ramp, so
cheap corners run first and the slowest corners of the family never hold both cores in the first
half hour.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from budgetnet.model.compile import Summary

# seconds per epoch of 55,000 images at one thread = MACS_S * MACs/1e6 + ACTS_S * activations/1e5 + BASE_S
MACS_S, ACTS_S, BASE_S = 4.91, 26.87, 1.65
FIT_IMAGES = 55_000
START_QUANTILE = 0.5     # the cap at the start of the ramp: the median predicted cost
FAMILY_DRAWS = 40        # uniform samples that show the family's spread of costs (~1.5 s)
MAX_DEFERRED = 10        # in a row: then the next sample runs whatever it costs


def activations(summary: Summary) -> int:
    """Activation elements one image produces, every row counted."""
    return sum(r.act_out for r in summary.rows)


def predicted_seconds(summary: Summary, epochs: int, train_images: int = FIT_IMAGES) -> float:
    """Predicted training seconds of `epochs` epochs on `train_images` images, one thread."""
    per_epoch = MACS_S * summary.macs / 1e6 + ACTS_S * activations(summary) / 1e5 + BASE_S
    return per_epoch * epochs * train_images / FIT_IMAGES


# the committed studies the model is fitted on: (study.db under the repository root, budget)
FIT_STUDIES = (("reports/search7k/default/study.db", 6999), ("reports/search7k/general-quartile/study.db", 6999),
               ("reports/search4k/default/study.db", 3999))


def fit(root: Path) -> dict:
    """Refit the model on FIT_STUDIES' trained trials (seconds per epoch run); the figures the
    constants above and this module's docstring quote, and MACs alone for comparison."""
    import numpy as np
    import optuna

    from budgetnet.model.compile import summarize
    from budgetnet.search.definition import load_search
    from budgetnet.search.record import records
    from budgetnet.search.storage import committed_study

    rows, seconds = [], []
    for path, budget in FIT_STUDIES:
        family = load_search("general").with_budget(max_params=budget)
        url = committed_study(root, path, "budgetnet bench cost")
        for name in optuna.get_all_study_names(url):
            for t, rec in records(optuna.load_study(study_name=name, storage=url)):
                if rec.trained and rec.epochs_run:
                    s = summarize(family.candidate(t.params, 1).spec)
                    rows.append((s.macs / 1e6, activations(s) / 1e5, 1.0))
                    seconds.append(rec.seconds / rec.epochs_run)
    x, y = np.array(rows), np.array(seconds)

    def quality(cols):
        coef = np.linalg.lstsq(x[:, cols], y, rcond=None)[0]
        pred = x[:, cols] @ coef
        return coef, 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum(), _rank_correlation(pred, y)

    both, r2, rho = quality([0, 1, 2])
    _, r2_macs, rho_macs = quality([0, 2])
    return {"trials": len(y), "macs_s": round(float(both[0]), 2), "acts_s": round(float(both[1]), 2),
            "base_s": round(float(both[2]), 2), "r2": round(float(r2), 2), "rank_correlation": round(float(rho), 2),
            "r2_macs_only": round(float(r2_macs), 2), "rank_correlation_macs_only": round(float(rho_macs), 2)}


def _rank_correlation(a, b) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def family_costs(search, epochs: int, train_images: int, draws: int = FAMILY_DRAWS, seed: int = 0) -> list[float]:
    """Predicted costs of `draws` uniform samples of the search's space (over-budget and invalid
    ones left out): what is cheap or slow in this family at this budget. Deterministic."""
    import optuna

    from budgetnet.errors import SpecError
    from budgetnet.model.compile import summarize

    sampler_study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed))  # in memory
    costs = []
    for _ in range(draws):
        trial = sampler_study.ask()
        try:
            s = summarize(search.candidate({k: d.suggest(trial, k) for k, d in search.space.items()}, epochs).spec)
        except SpecError:
            continue
        if not search.over_budget(s, epochs):
            costs.append(predicted_seconds(s, epochs, train_images))
    return costs


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass(frozen=True)
class CostCap:
    """The cost-aware start: `ramp` seconds (0: off) over the family's predicted costs."""
    ramp: float
    costs: tuple[float, ...]   # family_costs: the family's spread of costs at this budget

    def cap(self, elapsed: float) -> float | None:
        """The largest predicted cost a new sample may have `elapsed` seconds into the study
        (None: no cap)."""
        if not self.ramp or elapsed >= self.ramp or not self.costs:
            return None
        return quantile(list(self.costs), START_QUANTILE + (1 - START_QUANTILE) * elapsed / self.ramp)

    def defers(self, cost: float, elapsed: float, deferred_in_a_row: int) -> str:
        """Why a sample of predicted cost `cost` waits (empty: it runs)."""
        cap = self.cap(elapsed)
        if cap is None or cost <= cap or deferred_in_a_row >= MAX_DEFERRED:
            return ""
        return (f"predicted {cost / 60:.1f} min at the top rung > {cap / 60:.1f} min, the cap "
                f"{elapsed / 60:.0f} of {self.ramp / 60:.0f} min into the cost-aware start")
