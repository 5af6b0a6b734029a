"""`budgetnet search`: Optuna over a search definition, with a hard parameter budget.

The budget is counted from the filled-in spec before anything is built: an over-budget sample
ends at once (pruned, status `over_budget`, 0 training seconds) and its constraint value steers
the TPE sampler away from that region (the general family fills every sample into the budget,
so it has none). Fidelity is either successive halving over whole schedules (`rungs`, the
default: budgetnet.search.rungs) or a pruner reading each trial's per-epoch validation curve.
The test set is never touched during the search.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, NoReturn

import optuna
import torch

from budgetnet import atomic
from budgetnet.model.compile import summarize
from budgetnet.data.datasets import Dataset, load_dataset
from budgetnet.errors import SpecError
from budgetnet.search.cost import CostCap, family_costs, predicted_seconds
from budgetnet.search.rungs import next_promotion, rung_epochs
from budgetnet.search.definition import SearchDef
from budgetnet.search.options import SearchOptions, Startup
from budgetnet.search.record import StudyRecord, TrialRecord, records, TrialStatus
from budgetnet.training.loop import train



def _fill(cand, params: int, max_params: int | None) -> dict:
    """The share of its budget a candidate uses: the general family's tightest limit, else params."""
    if cand.fill is not None:
        return {"fill": round(cand.fill, 4)}
    return {"fill": round(params / max_params, 4)} if max_params else {}


def _set_constraints(trial: optuna.Trial, search: SearchDef, params: int | None, val_acc: float | None) -> None:
    """Constraint values for the sampler (feasible when <= 0): budget excess, accuracy deficit.
    Over-budget samples score hundreds, under-floor ones hundredths: TPE learns both apart."""
    excess = 1.0 if params is None else float(params - search.budget.max_params) if search.budget.max_params else 0.0
    trial.set_constraint("params", excess)
    floor = search.min_accuracy
    trial.set_constraint("accuracy", 0.0 if floor is None else floor - (val_acc or 0.0))


def max_epochs(search: SearchDef, opts: SearchOptions) -> int:
    return opts.epochs or search.top_epochs()


def rung_list(search: SearchDef, opts: SearchOptions) -> list[int]:
    """Epochs of each rung: one rung of the full schedule unless successive halving is on."""
    if opts.pruner != "rungs":
        return [max_epochs(search, opts)]
    if opts.rungs:
        return list(opts.rungs)
    if opts.prior:  # the study's rung 0 is read after as many epochs as the prior's readings
        from budgetnet.search.prior import prior_rungs
        return prior_rungs(rung_epochs(max_epochs(search, opts)))
    return rung_epochs(max_epochs(search, opts))


def existing_study(search: SearchDef, opts: SearchOptions) -> optuna.Study | None:
    """The study this command would resume, or None (nothing is created: a missing SQLite file
    stays missing)."""
    from budgetnet.search.storage import SlotLock, make_storage
    url = opts.storage_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return None
    name = study_name(search, opts)
    # under the study's lock, as open_study: on a fresh PostgreSQL database the first look creates
    # Optuna's schema, and workers starting together would race to create it
    with SlotLock(url, name):
        try:
            return optuna.load_study(study_name=name, storage=make_storage(url, None))
        except KeyError:
            return None


# the sampler settings a study records (StudyRecord) and a resumed study keeps; a study from before
# the record recorded none of them and ran what were then the only ones: random, no prior, no ramp
SAMPLER_SETTINGS = ("startup", "prior", "cost_ramp")


def keep_study_settings(search: SearchDef, opts: SearchOptions,
                        given: frozenset[str] | set[str] = frozenset(SAMPLER_SETTINGS)) -> SearchOptions:
    """A resumed study keeps the rungs and the sampler settings it was created with (its record),
    whatever today's defaults: a study begun with a 3-epoch rung 0 must not go on comparing 1-epoch
    readings with them, nor one begun with the prior lose it halfway. An explicit --rungs or
    --epochs that differs, or a sampler setting in GIVEN (those the user set) that differs, is
    refused (UsageError) before anything is written; the settings not given are the record's."""
    study = existing_study(search, opts)
    if study is None:
        return opts
    record = StudyRecord.of(study)
    opts = _keep_rungs(study, record, search, opts)
    recorded = {"startup": Startup(record.startup or Startup.random.value), "prior": bool(record.prior),
                "cost_ramp": float(record.cost_ramp or 0.0)}
    for name, value in recorded.items():
        if name in given and getattr(opts, name) != value:
            _refuse_resume(study, opts, _flag(name, value), _flag(name, getattr(opts, name)),
                           f" (or with {_flag(name, value)})")
    return replace(opts, **recorded)


def _keep_rungs(study: optuna.Study, record: StudyRecord, search: SearchDef, opts: SearchOptions) -> SearchOptions:
    if opts.pruner != "rungs" or not record.rungs or list(record.rungs) == rung_list(search, opts):
        return opts
    if opts.rungs is not None or opts.epochs is not None:
        _refuse_resume(study, opts, f"rungs {list(record.rungs)}", "--rungs" if opts.rungs is not None else "--epochs",
                       f" (or with --rungs {','.join(map(str, record.rungs))})")
    return replace(opts, rungs=tuple(record.rungs))


def _flag(name: str, value) -> str:
    option = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return option if value else option.replace("--", "--no-", 1)
    return f"{option} {value.value if isinstance(value, Startup) else f'{value:g}'}"


def _refuse_resume(study: optuna.Study, opts: SearchOptions, ran: str, asked: str, alternative: str = "") -> NoReturn:
    from budgetnet.errors import UsageError
    raise UsageError(f"study {study.study_name!r} in {opts.storage_url()} ran {ran}: resume it without {asked}"
                     f"{alternative}, or start another study (--out or --study-name)")


class Deferred(Exception):
    """A sample the cost-aware start holds back (the trial ends FAIL: the sampler ignores it)."""


def _study_elapsed(study: optuna.Study) -> float:
    """Seconds since the study's first trial started."""
    from datetime import datetime
    starts = [t.datetime_start for t, _ in records(study) if t.datetime_start is not None]
    return (datetime.now() - min(starts)).total_seconds() if starts else 0.0


def _enqueued(trial: optuna.Trial) -> bool:
    return "fixed_params" in trial.storage.get_trial_system_attrs(trial._trial_id)


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
            spec = cand.spec
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
            trial.set_user_attr(LIVE, live)  # the command that started this worker shows it (_watch)
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


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1), reduction_factor=3)
    if name == "quartile":
        # stop only a trial in the bottom quarter at its epoch, and not before two thirds of the
        # epochs: recipes differ in schedule, a OneCycle run near its peak learning rate looks
        # weak mid-way, and 5,000 validation images put +-0.15 points of noise on every reading
        # (lean7k: two high-lr trials pruned at epoch 5 by the median rule, again at epoch 7)
        # Optuna keeps the given percentile of trials from the top: 75 prunes the bottom 25%
        return optuna.pruners.PercentilePruner(75.0, n_startup_trials=3, n_warmup_steps=max(2, 2 * epochs // 3))
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(2, epochs // 3))
    return optuna.pruners.NopPruner()


def study_name(search: SearchDef, opts: SearchOptions) -> str:
    """SEARCH-PARAMS, with the other limits where given (another budget is another study)."""
    b = search.budget
    extra = "".join(f"-{tag}{limit}" for tag, limit in (("macs", b.max_macs), ("flash", b.max_model_bytes),
                                                        ("ram", b.max_peak_activation_bytes)) if limit is not None)
    return opts.study_name or f"{search.name}-{b.max_params}{extra}"


def open_study(search: SearchDef, opts: SearchOptions) -> optuna.Study:
    """Create or load the study. Under the study's lock: on a fresh database, workers starting
    together would race to create Optuna's schema and to enqueue the references."""
    from budgetnet.search.storage import SlotLock, make_storage

    from budgetnet.search.sampler import make_sampler
    sampler = make_sampler(opts.seed, opts.worker, opts.startup.value, opts.prior)
    directions = ["maximize", "minimize"] if opts.objective == "pareto" else ["maximize"]
    name = study_name(search, opts)
    with SlotLock(opts.storage_url(), name):
        study = optuna.create_study(storage=make_storage(opts.storage_url(), opts.heartbeat), study_name=name,
                                    sampler=sampler, pruner=make_pruner(opts.pruner, max_epochs(search, opts)),
                                    directions=directions, load_if_exists=True)
        if not study.trials:  # a new study: the warm start (shipped references) runs first
            for ref in search.reference if opts.warm_start else ():
                study.enqueue_trial(ref, user_attrs=TrialRecord(warm_start=True).start_attrs(), skip_if_exists=True)
            if opts.prior:
                from budgetnet.search.prior import add_prior
                add_prior(study, search, rung_list(search, opts)[0])
            StudyRecord(search.name, search.budget.model_dump(exclude_defaults=True), search.min_accuracy,
                        rung_list(search, opts), opts.warm_start, opts.prior, opts.startup.value,
                        opts.cost_ramp).save(study)
        for point in opts.enqueue:  # already run (or queued) points are not queued again on a rerun
            study.enqueue_trial(point, skip_if_exists=True)
        requeue_interrupted(study)
    return study


def requeue_interrupted(study: optuna.Study) -> None:
    """Enqueue every interrupted trial (Ctrl-C, or a worker that stopped heartbeating) once
    more, with the same parameters, rung and seed. Call under the study's lock."""
    from optuna.trial import TrialState

    trials = records(study)
    retried = {rec.retry_of for _, rec in trials}
    for t, rec in trials:
        if rec.status == TrialStatus.INTERRUPTED and t.number not in retried and t.state == TrialState.FAIL:
            again = replace(rec, retry_of=t.number)
            study.enqueue_trial(dict(t.params), user_attrs=again.start_attrs())


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
    from budgetnet.search.storage import SlotLock, fail_stale

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

    while deadline is None or time.monotonic() < deadline:
        if orphaned():  # the command that started this worker is gone: start nothing new
            return
        if over_budget_streak > 500:  # the space barely intersects the budget
            logging.getLogger("budgetnet").warning("stopping: 500 over-budget samples in a row")
            return
        if fail_streak >= 5:  # something systematic: say so instead of failing forever
            raise RuntimeError("5 trials in a row failed; see the leaderboard's failed trials")
        lock.acquire()
        try:
            fail_stale(study)
            done, running = _slots(study)
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


def running_elsewhere(study: optuna.Study) -> int:
    """Trials of this study still running in another command (after failing dead workers' ones):
    finalizing now would leave them off the leaderboard, so that command finalizes instead."""
    from optuna.trial import TrialState

    from budgetnet.search.storage import fail_stale
    fail_stale(study)
    return sum(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False))


def _worker_entry(search_dict: dict, opts: SearchOptions, threads: int, parent: int) -> None:
    import torch
    torch.set_num_threads(threads)
    try:  # a worker whose command was killed finishes its trial and stops
        run_worker(SearchDef.model_validate(search_dict), opts, orphaned=lambda: os.getppid() != parent)
    except KeyboardInterrupt:  # Ctrl-C reaches every worker; the parent says the one line
        pass


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


def quiet_optuna() -> None:
    """Optuna logs a failed trial with its whole traceback at WARNING (a Ctrl-C included); the
    search reports every trial itself, with the error's one line kept in the study."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)


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
        procs = [ctx.Process(target=_worker_entry, args=(search.model_dump(), replace(opts, worker=i), threads, os.getpid()))
                 for i in range(opts.workers)]
        for p in procs:
            p.start()
        _watch(study, procs, on_trial, on_progress)
    return study


def _watch(study: optuna.Study, procs, on_trial: Callable | None, on_progress: Callable | None = None,
           every: float = 2.0) -> None:
    """While worker processes run, report each trial's epochs as its worker records them, and
    each trial as it finishes (the live view)."""
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    shown: dict[int, dict] = {}
    while True:
        alive = any(p.is_alive() for p in procs)
        for t in study.get_trials(deepcopy=False):
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
