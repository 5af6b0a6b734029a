"""The study of a search: its name and storage, opening it (the warm start, the prior, the
interrupted trials queued again) and the resume policy (a resumed study keeps the settings it was
started with; a flag that contradicts them is refused in one line)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import optuna

from budgetnet.search.definition import SearchDef
from budgetnet.search.options import SearchOptions, Startup
from budgetnet.search.record import StudyRecord, TrialRecord, TrialStatus, records
from budgetnet.search.rungs import rung_epochs
from budgetnet.spec.schema import DistillCfg


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
    return _kept_settings(existing_study(search, opts), search, opts, given)


def _kept_settings(study: optuna.Study | None, search: SearchDef, opts: SearchOptions, given) -> SearchOptions:
    """keep_study_settings for a study already looked up (None: a new study keeps nothing)."""
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


def keep_study_teacher(search: SearchDef, opts: SearchOptions, given: bool, study: optuna.Study | None) -> SearchDef:
    """A resumed `study`'s candidates learn from the teacher it recorded (or from none): a --teacher
    (GIVEN) that differs is refused before anything is written."""
    if study is None:
        return search
    recorded = StudyRecord.of(study).distill
    ours = search.distill.model_dump() if search.distill else None
    if given and ours != recorded:
        ran = f"with the teacher {recorded['teacher']}" if recorded else "without a teacher"
        _refuse_resume(study, opts, ran, "--teacher" if recorded is None else f"--teacher {search.distill.teacher}")
    return search.model_copy(update={"distill": DistillCfg(**recorded) if recorded else None})


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
                        opts.cost_ramp, search.engine(),
                        search.distill.model_dump() if search.distill else None).save(study)
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


def quiet_optuna() -> None:
    """Optuna logs a failed trial with its whole traceback at WARNING (a Ctrl-C included); the
    search reports every trial itself, with the error's one line kept in the study."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def plan_search(search_file: str | None, facts, *, max_params=None, max_flash=None, max_ram=None, max_macs=None,
                min_accuracy=None, augment=None, rungs: str | None = None, enqueue: Path | None = None,
                startup: Startup | None = None, prior: bool | None = None, cost_ramp: float | None = None,
                teacher: str | None = None, options: dict) -> tuple[SearchDef, SearchOptions]:
    """What `budgetnet search` runs: the definition with the command's budgets on the data
    `facts` describes, and its options, with a resumed study's own settings kept (a contradicting
    flag is refused), the prior checked against the rungs it would run and the teacher (a checkpoint
    distilled into every candidate) against the data. `startup`, `prior`, `cost_ramp` and `teacher`
    are None where the command left them out; `options` are the other SearchOptions."""
    from budgetnet.search.definition import DEFAULT_SEARCH, load_points, load_search
    from budgetnet.search.rungs import parse_rungs

    search = load_search(search_file or DEFAULT_SEARCH).for_command(
        max_params, min_accuracy, facts, augment.value if augment else None, max_model_bytes=max_flash,
        max_peak_activation_bytes=max_ram, max_macs=max_macs, teacher=teacher)
    parsed = parse_rungs(rungs, options.get("epochs") or search.top_epochs()) if rungs is not None else None
    opts = SearchOptions(**options, cost_ramp=cost_ramp or 0.0, startup=startup or Startup.random, prior=bool(prior),
                         enqueue=load_points(enqueue, search) if enqueue else (),
                         rungs=tuple(parsed) if parsed else None)
    given = {name for name, value in (("startup", startup), ("prior", prior), ("cost_ramp", cost_ramp))
             if value is not None}
    from budgetnet.search.prior import check_applies, why_not
    study = existing_study(search, opts)
    if prior is None and study is None and why_not(search, facts.is_mnist, rung_list(search, opts)) is None:
        opts = replace(opts, prior=True)  # a new study of the general family on MNIST starts from the prior
    opts = _kept_settings(study, search, opts, given)  # a resumed study runs the rungs and sampler it recorded
    search = keep_study_teacher(search, opts, teacher is not None, study)
    if search.distill:  # a teacher that cannot teach this data fails here, not in every trial
        from budgetnet.training.loop import load_teacher
        load_teacher(search.distill, facts.shape, facts.classes, "--teacher" if teacher else f"{search.origin}: distill")
    if prior:  # before anything is written: the rungs this search runs, pruner and resumed record included
        check_applies(search, facts.is_mnist, rung_list(search, opts))
    return search, opts
