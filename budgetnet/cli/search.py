"""`budgetnet search`: the main job."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import typer

from budgetnet.cli.common import console, data_option
from budgetnet.search.options import Augment, Objective, Pruner, Startup
from budgetnet.cli.search_view import TrialReport, interval_text


def search(search_file: Optional[str] = typer.Argument(None, help="Search definition (file or shipped name: general, lean7k, under7k, ...). Default: general, the CNN family filled to any budget."),
           max_params: Optional[int] = typer.Option(None, min=1, help="Hard budget, inclusive (params <= N); overrides the file's."),
           max_flash: Optional[int] = typer.Option(None, min=1, help="Hard budget on the int8 weight bytes (batch norm folded, per-channel scales; see summary)."),
           max_ram: Optional[int] = typer.Option(None, min=1, help="Hard budget on the int8 peak activation bytes at batch 1, the network input counted; adds a stride-2 stem to the general family."),
           max_macs: Optional[int] = typer.Option(None, min=1, help="Hard budget on the MACs per image."),
           min_accuracy: Optional[float] = typer.Option(None, min=0, max=1, help="Accuracy floor on validation (0-1); overrides the file's. The shipped definitions' floors are for MNIST: on other data there is none unless given (the search then maximises validation accuracy)."),
           augment: Optional[Augment] = typer.Option(None, help="The general family's augmentation: digits (rotations, shifts; the default), natural (mirror images, shifts) or none."),
           trials: Optional[int] = typer.Option(None, min=1, help="Stop after N trained trials, every rung counted (over-budget samples do not count). Default: no limit."),
           timeout: float = typer.Option(1800, min=0, help="Stop starting new trials after S seconds (0: no limit)."),
           storage: Optional[str] = typer.Option(None, help="Optuna storage URL (default: sqlite:///OUT/study.db; postgresql://... for many machines)."),
           study_name: Optional[str] = typer.Option(None, help="Study name (default: SEARCH-BUDGET). Same name + storage = resume."),
           workers: Optional[int] = typer.Option(None, min=1, help="Worker processes on this machine, sharing the storage. Default: one per core."),
           threads: Optional[int] = typer.Option(None, min=1, help="Torch threads per worker. Default: cores // workers."),
           epochs: Optional[int] = typer.Option(None, min=1, help="Override the top rung's epochs (smoke runs)."),
           rungs: Optional[str] = typer.Option(None, help="Epochs of each successive-halving rung, e.g. 1,4,15 (default: one epoch per 15 of the epoch budget, then all of it: 1,15)."),
           warm_start: bool = typer.Option(True, help="Run the definition's references (shipped winners scaled into the budget) first; --no-warm-start searches from nothing."),
           enqueue: Optional[Path] = typer.Option(None, help="A YAML list of points of the space (each setting every searched value) to run before the sampler's own; a point already in the study is not queued again."),
           confirm: int = typer.Option(0, min=0, help="Retrain the winner with K fresh seeds on all training images (--full-train) and report the median test accuracy (OUT/confirm/)."),
           subset: Optional[int] = typer.Option(None, min=1, help="Train on the first N training images (smoke runs)."),
           seed: int = typer.Option(0, help="Sampler seed (worker i of this command samples with seed + 1000 i; give each command sharing a study its own). A candidate trains with seed + its trial number at every rung."),
           out: Path = typer.Option(Path("runs/search"), help="Output directory (study, leaderboard, best.yaml, plots)."),
           objective: Objective = typer.Option(Objective.accuracy, help="accuracy (best validation accuracy) or pareto (accuracy vs params)."),
           pruner: Pruner = typer.Option(Pruner.rungs, help="rungs (successive halving over whole schedules), quartile (bottom 25% at its epoch, after two thirds of the epochs), median, hyperband or none."),
           backend: Optional[str] = typer.Option(None, help="torch or custom; default: the template's."),
           device: str = typer.Option("auto", help="cpu, cuda, ... (auto: cuda when available)."),
           data: Optional[str] = data_option(),
           cost_ramp: Optional[float] = typer.Option(None, min=0, help="Cost-aware start: for the first S seconds a new sample predicted to train longer than a rising quantile of the family's costs (the median at first, all of them at S) waits; 0 (the default) turns it off. reports/search_power has the measurements. A resumed study keeps its own."),
           startup: Optional[Startup] = typer.Option(None, help="Start-up points before TPE: random (uniform, the default) or sobol (quasi-random, even coverage). A resumed study keeps its own."),
           prior: Optional[bool] = typer.Option(None, help="Start TPE from the observations of the project's committed MNIST studies of the general family (never trained again, never a winner); not a warm start: no shipped model runs. Default: on for a new study of the general family on MNIST whose first rung is 1 or 3 epochs and whose space the observations cover (not under --max-ram, which adds the stem stride) (it found a feasible trial soonest: reports/search_power); --no-prior searches cold. A resumed study keeps its own."),
           teacher: Optional[str] = typer.Option(None, help="A trained budgetnet checkpoint every candidate also learns from (knowledge distillation; temperature 4 and alpha 0.5 unless the search file's `distill` sets them). It must take the data's images and classes; it is never counted in a candidate's budget, and the winner's best.yaml names it, so its confirmation learns from it too. A resumed study keeps its own."),
           heartbeat: int = typer.Option(10, min=1, help="Heartbeat seconds: a trial whose worker died is failed after 3 missed beats and retried."),
           storage_patience: float = typer.Option(300, min=1, help="Seconds a worker waits for a study database that stopped answering (a PostgreSQL restart) before it gives up in one line; finished trials are kept."),
           retrain: bool = typer.Option(True, help="Retrain the winner and measure its test accuracy once.")):
    """Search a spec family under a hard budget. Over-budget samples are never trained. Rerunning
    the same command resumes the study (an interrupted trial runs again with its seed). Outputs:
    leaderboard.csv/.md, best.yaml, best/ (checkpoint, metrics, curves), history.png (best
    validation accuracy against wall time), pareto.png, summary.json, command.txt."""
    from budgetnet.search.report import budget_text, confirm_winner, finalize, floor_text
    from budgetnet.search.run import run_search, running_elsewhere
    from budgetnet.search.study import plan_search, rung_list

    from budgetnet.data.datasets import describe, validation_size

    facts = describe(data)
    s, opts = plan_search(search_file, facts, max_params=max_params, max_flash=max_flash, max_ram=max_ram,
                          max_macs=max_macs, min_accuracy=min_accuracy, augment=augment, rungs=rungs, enqueue=enqueue,
                          startup=startup, prior=prior, cost_ramp=cost_ramp, teacher=teacher,
                          options=dict(out=out, trials=trials, timeout=timeout or None, storage=storage,
                                       study_name=study_name, workers=workers or os.cpu_count() or 1, threads=threads,
                                       epochs=epochs, subset=subset, seed=seed, backend=backend, device=device,
                                       objective=objective, pruner=pruner, data=data, heartbeat=heartbeat,
                                       storage_patience=storage_patience,
                                       warm_start=warm_start))
    workers = opts.workers
    per_worker = threads or max(1, (os.cpu_count() or 1) // workers)
    stop = ", ".join(x for x in (f"{trials} trained trials" if trials else "", f"{timeout:.0f} s" if timeout else "") if x)
    console.print(f"search {s.name}: {s.description}; on {facts.name} ({'x'.join(map(str, facts.shape))}, "
                  f"{facts.classes} classes, augment {s.augment}); budget {budget_text(s.budget)}, floor "
                  f"{floor_text(s.min_accuracy)} val; rungs {rung_list(s, opts)} epochs ({pruner.value}); "
                  f"{workers} worker(s) x {per_worker} thread(s); warm start {'on' if warm_start else 'off'}; "
                  f"start-up {opts.startup.value}{', prior on (--no-prior: cold)' if opts.prior else ', no prior'}; cost-aware start "
                  f"{f'{opts.cost_ramp / 60:.0f} min' if opts.cost_ramp else 'off'}; "
                  + (f"teacher {s.distill.teacher} (T {s.distill.temperature:g}, alpha {s.distill.alpha:g}); "
                     if s.distill else "") +
                  f"stops at {stop or 'Ctrl-C'} -> {out}", markup=False)
    start = time.perf_counter()
    n = validation_size(data)  # --subset trims training images only: validation is whole
    report = TrialReport(s.min_accuracy, s.budget.max_params, start, opts.timeout, trials, n)
    try:
        with report:
            study = run_search(s, opts, report.on_trial, report.on_progress)
    except KeyboardInterrupt:
        console.print(f"interrupted: the study in {opts.storage_url()} keeps every finished trial; rerun the same "
                      "command to resume (the interrupted trial runs again)", markup=False)
        raise typer.Exit(130) from None
    busy = running_elsewhere(study)
    if busy:
        console.print(f"{busy} trial(s) of this study still run in another command; the command that finishes "
                      f"last writes the leaderboard (rerun this one when they are done to finalize {out})")
        return
    summary = finalize(study, s, opts, time.perf_counter() - start, retrain=retrain)
    console.print(f"{summary.trials} samples: {summary.complete} complete, {summary.pruned} pruned, "
                  f"{summary.over_budget} over budget ({summary.over_budget_train_seconds:.0f} training seconds), "
                  + (f"{summary.deferred} deferred by the cost-aware start, " if summary.deferred else "") +
                  f"{summary.invalid} invalid, {summary.failed} failed; epochs run {summary.epochs_run}; "
                  f"{summary.wall_seconds:.0f}s")
    feasible = summary.first_feasible_s
    closest = ""
    if feasible is None and summary.best and s.min_accuracy is not None:  # how close the winner came
        b = summary.best
        closest = f" (closest: trial {b['trial']}, val {100 * b['val_acc']:.2f}%{interval_text(b['val_acc'], n)})"
    console.print("first feasible trial (val >= floor, within budget): "
                  + ("n/a (no floor)" if s.min_accuracy is None else
                     f"{feasible / 60:.1f} min after the search started" if feasible is not None else f"none yet{closest}"))
    if not summary.best:
        console.print("no trial completed", style="yellow")
        raise typer.Exit(1)
    b = summary.best
    test = f", test {100 * b['test_acc']:.2f}% (retrained, final epoch)" if "test_acc" in b else ""
    console.print(f"best: trial {b['trial']}, {b['params']:,} params, {b['epochs']} epochs, val "
                  f"{100 * b['val_acc']:.2f}%{interval_text(b['val_acc'], n)}{test} -> {out / 'best.yaml'}")
    if confirm:
        def on_epoch(stat, result):
            console.print(f"  confirm seed {result.metrics.seed} epoch {stat.epoch:>2} {stat.seconds:.0f}s")

        r = confirm_winner(out, opts, summary, confirm, on_epoch)
        accs = ", ".join(f"seed {x.seed}: {100 * x.test_acc:.2f}%" for x in r.seeds)
        verdict = "" if s.min_accuracy is None else \
            f" ({'reaches' if r.median_test_acc >= s.min_accuracy else 'does not reach'} {100 * s.min_accuracy:.2f}%)"
        console.print(f"confirmed on all training images: test {accs}; median {100 * r.median_test_acc:.2f}%"
                      f"{verdict} -> {out / 'confirm'}")


def register(app: typer.Typer) -> None:
    app.command()(search)
