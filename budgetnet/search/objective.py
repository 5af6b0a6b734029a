"""One trial of a search: sample a point, fill it into the budget, refuse it when the spec is
over a limit (never built, never trained), hold it back while the cost-aware start says so,
train it on its rung's schedule, and record how it ended. The test set is never touched."""
from __future__ import annotations

import time
from typing import Callable

import optuna

from budgetnet.data.datasets import Dataset
from budgetnet.errors import SpecError
from budgetnet.model.compile import summarize
from budgetnet.search.cost import CostCap, family_costs, predicted_seconds
from budgetnet.search.definition import SearchDef
from budgetnet.search.options import SearchOptions
from budgetnet.search.record import StudyRecord, TrialRecord, TrialStatus, records
from budgetnet.search.storage import is_unreachable
from budgetnet.search.study import rung_list
from budgetnet.training.loop import train


def _fill(cand, params: int, max_params: int | None) -> dict:
    """The share of its budget a candidate uses: the general family's tightest limit, else params."""
    if cand.fill is not None:
        return {"fill": round(cand.fill, 4)}
    return {"fill": round(params / max_params, 4)} if max_params else {}


def _set_constraints(trial: optuna.Trial, search: SearchDef, params: int | None, val_acc: float | None) -> None:
    """Optuna's constraint values of the trial (feasible when <= 0): budget excess, accuracy
    deficit. Recorded with the trial; the sampler is given no constraints function, so the floor
    never changes which points are sampled."""
    excess = 1.0 if params is None else float(params - search.budget.max_params) if search.budget.max_params else 0.0
    trial.set_constraint("params", excess)
    floor = search.min_accuracy
    trial.set_constraint("accuracy", 0.0 if floor is None else floor - (val_acc or 0.0))


class Deferred(Exception):
    """A sample the cost-aware start holds back (the trial ends FAIL: the sampler ignores it)."""


def _study_elapsed(study: optuna.Study) -> float:
    """Seconds since the study's first trial started."""
    from datetime import datetime
    starts = [t.datetime_start for t, _ in records(study) if t.datetime_start is not None]
    return (datetime.now() - min(starts)).total_seconds() if starts else 0.0


def _enqueued(trial: optuna.Trial) -> bool:
    """Whether the trial runs an enqueued point (a reference, --enqueue, a retry, a promotion)."""
    running = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    return any(t.number == trial.number and "fixed_params" in t.system_attrs for t in running)


LIVE = "live"  # a training trial's last epoch: {"epoch", "epochs", "val_acc"}


def make_objective(search: SearchDef, opts: SearchOptions, data: Dataset,
                   on_progress: Callable | None = None) -> Callable:
    rungs = rung_list(search, opts)
    top_epochs = rungs[-1]
    images = len(data.train)
    cap = CostCap(opts.cost_ramp, tuple(family_costs(search, top_epochs, images) if opts.cost_ramp else ()))
    deferred_in_a_row = 0

    def objective(trial: optuna.Trial):
        nonlocal deferred_in_a_row
        try:
            result = run_trial(trial)
            deferred_in_a_row = 0
            return result
        except Deferred:
            deferred_in_a_row += 1
            raise
        except KeyboardInterrupt:  # marked, so that the resumed search runs it again
            TrialRecord.of(trial).save(trial, status=TrialStatus.INTERRUPTED)
            raise
        except (optuna.TrialPruned, SpecError):
            deferred_in_a_row = 0
            raise
        except Exception as e:  # recorded in the study: the leaderboard shows why
            TrialRecord.of(trial).save(trial, reason=f"{type(e).__name__}: {e}"[:300])
            raise

    def run_trial(trial: optuna.Trial):
        rec = TrialRecord.of(trial)  # a promotion or a rerun arrives with its rung, candidate and seed
        rec = rec.save(trial, rung=rec.rung,
                       candidate=trial.number if rec.candidate is None else rec.candidate,
                       seed=opts.seed + trial.number if rec.seed is None else rec.seed)
        values = {name: dist.suggest(trial, name) for name, dist in search.space.items()}
        try:
            cand = search.candidate(values, rungs[rec.rung] if opts.pruner == "rungs" else opts.epochs)
            spec = cand.spec.with_engine(StudyRecord.of(trial.study).trial_engine)  # a resumed study keeps its engine
        except SpecError as e:
            rec.save(trial, status=TrialStatus.INVALID, reason=e.issues[0].line("template")[:200])
            _set_constraints(trial, search, None, None)
            raise optuna.TrialPruned("invalid spec") from None
        s = summarize(spec)
        rec = rec.save(trial, params=s.params, macs=s.macs, epochs=spec.train.epochs,
                       **_fill(cand, s.params, search.budget.max_params),
                       **({"arch": cand.arch} if cand.arch else {}))
        reason = search.over_budget(s, spec.train.epochs)
        if reason:  # never built, never trained
            rec.save(trial, status=TrialStatus.OVER_BUDGET, reason=reason, seconds=0.0)
            _set_constraints(trial, search, s.params, None)
            raise optuna.TrialPruned(reason)
        if rec.rung == 0:
            rec = rec.save(trial, predicted_s=round(predicted_seconds(s, top_epochs, images), 1))
            # only the sampler's own points wait: a reference, an --enqueue point, a retry or a
            # promotion (enqueued trials all) runs when its turn comes
            why = "" if _enqueued(trial) else \
                cap.defers(rec.predicted_s, _study_elapsed(trial.study), deferred_in_a_row)
            if why:
                rec.save(trial, status=TrialStatus.DEFERRED, reason=why, seconds=0.0)
                raise Deferred(why)
        start = time.perf_counter()
        history: list[float] = []

        def on_epoch(stat, result):
            history.append(stat.val_acc)
            live = {"epoch": stat.epoch, "epochs": spec.train.epochs, "val_acc": stat.val_acc}
            try:  # the command that started this worker shows it (_watch); never worth a trial
                trial.set_user_attr(LIVE, live)
            except Exception as e:
                if not is_unreachable(e):
                    raise
            if on_progress:
                on_progress(trial.number, rec.rung, live)
            if opts.objective == "accuracy":  # under rungs the pruner never prunes
                trial.report(stat.val_acc, stat.epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after epoch {stat.epoch}")

        try:
            result = train(spec, data, seed=rec.seed, device=opts.device, backend=opts.backend,
                           eval_test=False, on_epoch=on_epoch)
        except optuna.TrialPruned:
            last = history[-1] if history else None
            rec.save(trial, status=TrialStatus.PRUNED, epochs_run=len(history), seconds=time.perf_counter() - start, val_acc=last)
            _set_constraints(trial, search, s.params, last)
            raise
        m = result.metrics
        rec.save(trial, status=TrialStatus.COMPLETE, epochs_run=m.epochs, seconds=m.seconds, val_acc=m.val_acc,
                 best_val_acc=m.best_val_acc)
        _set_constraints(trial, search, s.params, m.val_acc)
        return (m.val_acc, s.params) if opts.objective == "pareto" else m.val_acc

    return objective
