"""`budgetnet search`: Optuna over a search definition, with a hard parameter budget.

The budget is counted from the filled-in spec before anything is built: an over-budget sample
ends at once (pruned, status `over_budget`, 0 training seconds; TPE ranks a pruned trial with no
reported value below every trained one; the general family fills every sample into the budget,
so it has none). Fidelity is either successive halving over whole schedules (`rungs`, the
default: budgetnet.search.rungs) or a pruner reading each trial's per-epoch validation curve.
The test set is never touched during the search.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from typing import Callable

import optuna
import torch

from budgetnet import atomic
from budgetnet.data.datasets import load_dataset
from budgetnet.errors import BudgetnetError, StorageError
from budgetnet.search.definition import SearchDef
from budgetnet.search.objective import LIVE, make_objective
from budgetnet.search.options import SearchOptions
from budgetnet.search.record import TrialRecord, TrialStatus, records
from budgetnet.search.rungs import next_promotion
from budgetnet.search.study import keep_study_settings, open_study, quiet_optuna, rung_list


def _slots(study: optuna.Study) -> tuple[int, int]:
    """(trained trials finished, trials running now): a running trial holds a slot until it
    turns out over budget or invalid, which it does within milliseconds."""
    from optuna.trial import TrialState
    trials = records(study)
    done = sum(rec.trained for _, rec in trials)
    running = sum(t.state == TrialState.RUNNING for t, _ in trials)
    return done, running


def run_worker(search: SearchDef, opts: SearchOptions, on_trial: Callable | None = None,
               orphaned: Callable[[], bool] = lambda: False, study: optuna.Study | None = None,
               on_progress: Callable | None = None) -> None:
    """One worker: run trials until the study holds exactly `opts.trials` trained trials.

    Counting and starting the next trial happen under a study-wide lock (see
    budgetnet.search.storage), so any number of workers on any number of machines stop at exactly
    `opts.trials`; a dead worker's trial is failed by heartbeat and re-enqueued."""
    from budgetnet.search.storage import Outage, SlotLock, fail_stale, is_unreachable

    quiet_optuna()
    rungs = rung_list(search, opts)
    data = load_dataset(opts.data, subset=opts.subset)
    study = study or open_study(search, opts)  # each worker process opens it once
    objective = make_objective(search, opts, data, on_progress)
    lock = SlotLock(opts.storage_url(), study.study_name)  # the same lock open_study took
    deadline = time.monotonic() + opts.timeout if opts.timeout else None
    over_budget_streak = fail_streak = 0

    def claimed_objective(trial):
        lock.release()  # the trial exists (RUNNING) now: it holds its slot
        return objective(trial)

    def after_trial(study, trial):
        nonlocal over_budget_streak, fail_streak
        status = TrialRecord.of(trial).status
        over_budget_streak = over_budget_streak + 1 if status == TrialStatus.OVER_BUDGET else 0
        if status != TrialStatus.DEFERRED:  # a deferred sample ends FAIL on purpose
            fail_streak = fail_streak + 1 if trial.state == optuna.trial.TrialState.FAIL else 0
        if on_trial:
            on_trial(study, trial)

    outage = Outage(opts.storage_url(), opts.storage_patience)
    while deadline is None or time.monotonic() < deadline:
        if orphaned():  # the command that started this worker is gone: start nothing new
            return
        if over_budget_streak > 500:  # the space barely intersects the budget
            logging.getLogger("budgetnet").warning("stopping: 500 over-budget samples in a row")
            return
        if fail_streak >= 5:  # something systematic: say so instead of failing forever
            raise RuntimeError("5 trials in a row failed; see the leaderboard's failed trials")
        try:
            lock.acquire()
            try:
                fail_stale(study)
                done, running = _slots(study)
                outage.back()
                if opts.trials is not None and done >= opts.trials:
                    return
                if opts.trials is not None and done + running >= opts.trials:
                    lock.release()
                    time.sleep(1.0)  # every slot is taken; wait in case one frees up
                    continue
                if opts.pruner == "rungs":  # a candidate earned a longer schedule: it runs next
                    promotion = next_promotion(study.get_trials(deepcopy=False), rungs)
                    if promotion:
                        params, rec = promotion
                        study.enqueue_trial(params, user_attrs=rec.start_attrs())
                # a trial that raises is recorded as FAIL (with its error) and the search goes on
                study.optimize(claimed_objective, n_trials=1, callbacks=[after_trial], catch=(Exception,),
                               gc_after_trial=False)
            finally:
                lock.release()
        except Exception as e:  # the database went away: wait for it, or give up in one line
            if not is_unreachable(e):
                raise
            outage.wait(e)


def running_elsewhere(study: optuna.Study) -> int:
    """Trials of this study still running in another command (after failing dead workers' ones):
    finalizing now would leave them off the leaderboard, so that command finalizes instead."""
    from optuna.trial import TrialState

    from budgetnet.search.storage import fail_stale
    fail_stale(study)
    return sum(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False))


def _worker_entry(search_dict: dict, opts: SearchOptions, threads: int, parent: int, errors) -> None:
    import torch
    torch.set_num_threads(threads)
    try:  # a worker whose command was killed finishes its trial and stops
        run_worker(SearchDef.model_validate(search_dict), opts, orphaned=lambda: os.getppid() != parent)
    except KeyboardInterrupt:  # Ctrl-C reaches every worker; the parent says the one line
        pass
    except BudgetnetError as e:  # the command says it, once
        errors.put(str(e))


@dataclass
class SearchSummary:
    trials: int
    trained: int
    complete: int
    pruned: int
    over_budget: int
    invalid: int
    failed: int
    deferred: int
    over_budget_train_seconds: float
    epochs_run: int
    epochs_full: int
    wall_seconds: float
    rungs: list[int] | None = None
    first_feasible_s: float | None = None   # first trial start -> first val >= floor within budget
    best: dict | None = None
    confirm: dict | None = None             # --confirm K: the winner retrained with K fresh seeds


def run_search(search: SearchDef, opts: SearchOptions, on_trial: Callable | None = None,
               on_progress: Callable | None = None) -> optuna.Study:
    """Run (or resume) the study with `opts.workers` processes on the same storage. `on_trial(study,
    trial)` runs as each trial finishes; `on_progress(number, rung, live)` after each epoch of a
    trial still training (`live`: epoch, epochs, val_acc)."""
    quiet_optuna()
    opts = keep_study_settings(search, opts)
    atomic.make_dir(opts.out)
    study = open_study(search, opts)  # create it (and enqueue references) once, before workers race
    if opts.workers <= 1:  # in this process, so --threads must apply here
        if opts.threads:
            torch.set_num_threads(opts.threads)
        run_worker(search, opts, on_trial, study=study, on_progress=on_progress)
    else:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        threads = opts.threads or max(1, (os.cpu_count() or 1) // opts.workers)
        errors = ctx.SimpleQueue()
        procs = [ctx.Process(target=_worker_entry,
                             args=(search.model_dump(), replace(opts, worker=i), threads, os.getpid(), errors))
                 for i in range(opts.workers)]
        for p in procs:
            p.start()
        _watch(study, procs, on_trial, on_progress)
        if not errors.empty():
            raise StorageError(errors.get())
    return study


def _watch(study: optuna.Study, procs, on_trial: Callable | None, on_progress: Callable | None = None,
           every: float = 2.0) -> None:
    """While worker processes run, report each trial's epochs as its worker records them, and
    each trial as it finishes (the live view)."""
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    shown: dict[int, dict] = {}
    from budgetnet.search.storage import is_unreachable
    while True:
        alive = any(p.is_alive() for p in procs)
        try:
            trials = study.get_trials(deepcopy=False)
        except Exception as e:  # the database is away: the workers wait for it, and so does the view
            if not is_unreachable(e):
                raise
            trials = []
        for t in trials:
            live = t.user_attrs.get(LIVE)
            if on_progress and t.state == optuna.trial.TrialState.RUNNING and live and shown.get(t.number) != live:
                shown[t.number] = live
                on_progress(t.number, TrialRecord.of(t).rung, live)
            if t.state.is_finished() and t.number not in seen:
                seen.add(t.number)
                if on_trial:
                    on_trial(study, t)
        if not alive:
            break
        time.sleep(every)
    for p in procs:
        p.join()
