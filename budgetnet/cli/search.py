"""`budgetnet search`: the main job."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from budgetnet.cli.common import console

PRUNERS = ("quartile", "median", "hyperband", "none")


def search(search_file: Optional[str] = typer.Argument(None, help="Search definition (file or shipped name: under8k, under7k, under4k, vit_under8k). Default: the shipped CNN template that fits --max-params."),
           max_params: Optional[int] = typer.Option(None, min=1, help="Hard budget, inclusive (params <= N); overrides the file's."),
           min_accuracy: Optional[float] = typer.Option(None, min=0, max=1, help="Accuracy floor on validation (0-1); overrides the file's."),
           trials: Optional[int] = typer.Option(20, min=1, help="Stop after N trained trials (over-budget samples do not count)."),
           timeout: Optional[float] = typer.Option(None, min=1, help="Stop starting new trials after S seconds."),
           storage: Optional[str] = typer.Option(None, help="Optuna storage URL (default: sqlite:///OUT/study.db; postgresql://... for many machines)."),
           study_name: Optional[str] = typer.Option(None, help="Study name (default: SEARCH-BUDGET). Same name + storage = resume."),
           workers: int = typer.Option(1, min=1, help="Worker processes on this machine, sharing the storage."),
           epochs: Optional[int] = typer.Option(None, min=1, help="Override every trial's epochs (smoke runs)."),
           subset: Optional[int] = typer.Option(None, min=1, help="Train on the first N training images (smoke runs)."),
           seed: int = typer.Option(0, help="Sampler seed; trial k trains with seed+k."),
           out: Path = typer.Option(Path("runs/search"), help="Output directory (study, leaderboard, best.yaml, plots)."),
           objective: str = typer.Option("accuracy", help="accuracy (best validation accuracy) or pareto (accuracy vs params)."),
           pruner: str = typer.Option("quartile", help="quartile (bottom 25% at its epoch, after two thirds of the epochs), median (after a third), hyperband or none."),
           backend: Optional[str] = typer.Option(None, help="torch or custom; default: the template's."),
           device: str = typer.Option("auto", help="cpu, cuda, ... (auto: cuda when available)."),
           data_dir: Optional[str] = typer.Option(None, help="IDX data directory; default: embedded MNIST."),
           heartbeat: int = typer.Option(10, min=1, help="Heartbeat seconds: a trial whose worker died is failed after 3 missed beats and retried."),
           retrain: bool = typer.Option(True, help="Retrain the winner and measure its test accuracy once.")):
    """Search a spec family under a hard budget. Over-budget samples are never trained. Rerunning
    the same command resumes the study. Outputs: leaderboard.csv/.md, best.yaml, best/ (checkpoint,
    metrics, curves), history.png, pareto.png, summary.json, command.txt."""
    from budgetnet.search import SearchOptions, run_search, running_elsewhere
    from budgetnet.searchdef import load_search, pick_search
    from budgetnet.searchreport import finalize

    if objective not in ("accuracy", "pareto") or pruner not in PRUNERS:
        console.print("error: --objective must be accuracy or pareto; --pruner quartile, median, hyperband or none", style="red")
        raise typer.Exit(2)
    s = load_search(search_file or pick_search(max_params))
    s = s.with_budget(max_params=max_params)
    if min_accuracy is not None:
        s = s.model_copy(update={"min_accuracy": min_accuracy})
    opts = SearchOptions(out=out, trials=trials, timeout=timeout, storage=storage, study_name=study_name,
                         workers=workers, epochs=epochs, subset=subset, seed=seed, backend=backend,
                         device=device, objective=objective, pruner=pruner, data_dir=data_dir, heartbeat=heartbeat)
    console.print(f"search [bold]{s.name}[/]: {s.description}; budget params <= {s.budget.max_params:,}, "
                  f"floor {100 * s.min_accuracy:.2f}% val; {trials} trained trials, {workers} worker(s) -> {out}")
    best = {"val": None}

    def on_trial(study, trial):
        a = trial.user_attrs
        status = a.get("status", trial.state.name.lower())
        val = a.get("val_acc")
        if status == "complete" and (best["val"] is None or val > best["val"]):
            best["val"] = val
        acc = f"val {100 * val:.2f}%" if val is not None else ""
        extra = a.get("reason", "") if status in ("over_budget", "invalid") else f"{a.get('seconds', 0):.0f}s"
        console.print(f"  trial {trial.number:>3} {status:<11} params {a.get('params') or 0:>6,} {acc:<12} {extra}"
                      + (f"  best {100 * best['val']:.2f}%" if best["val"] is not None else ""))

    start = time.perf_counter()
    try:
        study = run_search(s, opts, on_trial)
    except KeyboardInterrupt:
        console.print(f"interrupted: the study in {opts.storage_url()} keeps every finished trial; rerun to resume")
        raise typer.Exit(130) from None
    busy = running_elsewhere(study)
    if busy:
        console.print(f"{busy} trial(s) of this study still run in another command; the command that finishes "
                      f"last writes the leaderboard (rerun this one when they are done to finalize {out})")
        return
    summary = finalize(study, s, opts, time.perf_counter() - start, retrain=retrain)
    console.print(f"{summary.trials} samples: {summary.complete} complete, {summary.pruned} pruned, "
                  f"{summary.over_budget} over budget ({summary.over_budget_train_seconds:.0f} training seconds), "
                  f"{summary.invalid} invalid, {summary.failed} failed; epochs run {summary.epochs_run} of "
                  f"{summary.epochs_full} unpruned; {summary.wall_seconds:.0f}s")
    if summary.best:
        b = summary.best
        test = f", test {100 * b['test_acc']:.2f}% (retrained, final epoch)" if "test_acc" in b else ""
        console.print(f"best: trial {b['trial']}, {b['params']:,} params, val {100 * b['val_acc']:.2f}%{test} "
                      f"-> {out / 'best.yaml'}")
    else:
        console.print("no trial completed", style="yellow")


def register(app: typer.Typer) -> None:
    app.command()(search)
