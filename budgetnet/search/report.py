"""What a search leaves in its output directory: leaderboard (CSV + Markdown), the winner
retrained with test accuracy measured once, best.yaml, plots, the command and a summary."""
from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

import optuna
import pandas as pd

from budgetnet import atomic
from budgetnet.data.datasets import describe, validation_size
from budgetnet.search import plots
from budgetnet.search.record import StudyRecord, TrialRecord, records, status_of, wilson, TrialStatus
from budgetnet.search.definition import SearchDef
from budgetnet.search.options import SearchOptions
from budgetnet.search.run import SearchSummary
from budgetnet.search.study import rung_list
from budgetnet.search.timeline import timeline

COLUMNS = ["trial", "status", "rung", "candidate", "params", "fill", "macs", "val_acc", "best_val_acc", "epochs_run",
           "epochs", "seconds", "predicted_s", "seed", "arch"]


def leaderboard(study: optuna.Study) -> pd.DataFrame:
    rows = []
    for t, rec in records(study):
        rows.append({"trial": t.number, "status": status_of(t), "rung": rec.rung, "candidate": rec.candidate,
                     "params": rec.params, "fill": rec.fill, "macs": rec.macs, "val_acc": rec.val_acc,
                     "best_val_acc": rec.best_val_acc, "epochs_run": rec.epochs_run, "epochs": rec.epochs,
                     "seconds": round(rec.seconds or 0.0, 1), "predicted_s": rec.predicted_s, "seed": rec.seed,
                     "arch": rec.arch,
                     "reason": rec.reason, **{f"hp_{k}": v for k, v in t.params.items()}})
    df = pd.DataFrame(rows, columns=None if rows else COLUMNS)
    if df.empty:
        return df
    df["_rank"] = df["status"].map({TrialStatus.COMPLETE: 0, TrialStatus.PRUNED: 1}).fillna(2)
    return df.sort_values(["_rank", "val_acc", "params"], ascending=[True, False, True],
                          na_position="last").drop(columns="_rank").reset_index(drop=True)


def best_trial(study: optuna.Study) -> tuple[optuna.trial.FrozenTrial, TrialRecord] | None:
    done = [(t, rec) for t, rec in records(study) if rec.complete]
    return max(done, key=lambda x: (x[1].val_acc, -(x[1].params or 0))) if done else None


def summarize_study(study: optuna.Study, search: SearchDef, opts: SearchOptions, wall: float,
                    first_feasible_s: float | None = None) -> SearchSummary:
    trials = records(study)
    status = [rec.status for _, rec in trials]
    trained = [rec for _, rec in trials if rec.trained]
    # what the study ran (its record), not what today's options would run
    rungs = StudyRecord.of(study).rungs or rung_list(search, opts)
    return SearchSummary(
        trials=len(trials), trained=len(trained), complete=status.count(TrialStatus.COMPLETE), pruned=status.count(TrialStatus.PRUNED),
        over_budget=status.count(TrialStatus.OVER_BUDGET), invalid=status.count(TrialStatus.INVALID),
        deferred=status.count(TrialStatus.DEFERRED),
        failed=sum(t.state == optuna.trial.TrialState.FAIL and rec.status != TrialStatus.DEFERRED for t, rec in trials),
        over_budget_train_seconds=sum(rec.seconds for _, rec in trials if rec.status == TrialStatus.OVER_BUDGET),
        epochs_run=sum(rec.epochs_run for rec in trained),
        # a search without rungs or pruning trains every trial for the top rung's epochs
        epochs_full=max(rungs) * len(trained),
        wall_seconds=wall, rungs=rungs,
        first_feasible_s=first_feasible_s)


def _retrained_trial(out: Path) -> int | None:
    """The trial whose retrain is in OUT/best, per the summary.json written with it."""
    try:
        best = json.loads((out / "summary.json").read_text()).get("best") or {}
    except (OSError, ValueError):
        return None
    return best.get("trial") if "test_acc" in best else None


def finalize(study: optuna.Study, search: SearchDef, opts: SearchOptions, wall: float,
             retrain: bool = True, on_batch=None, record_command: bool = True) -> SearchSummary:
    from budgetnet.training.runs import train_run

    out = opts.out
    tl = timeline(study, search.min_accuracy, search.budget.max_params)
    # the study's wall time (first trial start to last end): a command that only resumes or
    # finalizes a study would otherwise report its own few seconds
    summary = summarize_study(study, search, opts, max(wall, tl.wall_seconds), tl.first_feasible_s)
    found = best_trial(study)
    df = leaderboard(study)
    n_val = validation_size(opts.data)
    if not df.empty and "val_acc" in df:  # each validation reading with its 95% binomial interval
        bounds = df["val_acc"].map(lambda v: wilson(v, n_val) if pd.notna(v) else (None, None))
        df["val_lo"], df["val_hi"] = bounds.map(lambda b: b[0]), bounds.map(lambda b: b[1])
    if found is not None:
        best, rec = found
        # pinned to the engine the study's trials ran, so that a retrain repeats the search's reading
        spec = search.spec(best.params, rec.epochs or opts.epochs).with_engine(StudyRecord.of(study).trial_engine)
        raw = spec.to_dict()
        raw["name"] = f"best_{search.name}"
        raw["budget"] = search.budget.model_dump(exclude_defaults=True)
        raw["notes"] = (f"found by `budgetnet search {search.name}`, trial {best.number}: validation accuracy "
                        f"{100 * rec.val_acc:.2f}% (seed {rec.seed})")
        atomic.write_text(out / "best.yaml", _yaml(raw))
        summary.best = {"trial": best.number, "params": rec.params, "macs": rec.macs, "epochs": spec.train.epochs,
                        "fill": rec.fill, "val_acc": rec.val_acc, "seed": rec.seed, "values": best.params}
        if retrain:
            m = train_run(out / "best.yaml", out / "best", seed=rec.seed, subset=opts.subset,
                          data=opts.data, backend=opts.backend, device=opts.device, on_batch=on_batch)
            summary.best.update(retrained_val_acc=m.val_acc, test_acc=m.test_acc, retrain_seconds=m.seconds)
            df.loc[df["trial"] == best.number, "test_acc"] = m.test_acc
        elif (out / "best").is_dir() and _retrained_trial(out) != best.number:
            logging.getLogger("budgetnet").warning(
                f"{out / 'best'} holds an earlier winner's retrain, not trial {best.number}'s: "
                "rerun without --no-retrain to replace it")
    with atomic.atomic_path(out / "leaderboard.csv") as tmp:
        df.to_csv(tmp, index=False)
    atomic.write_text(out / "leaderboard.md", _markdown(df, search, summary))
    if record_command:  # the command that ran the study, not a later one that only reads it
        atomic.write_text(out / "command.txt", " ".join(shlex.quote(a) for a in ["budgetnet", *sys.argv[1:]]) + "\n")
    atomic.write_json(out / "summary.json", {**summary.__dict__, "search": search.name,
                                             "budget": search.budget.model_dump(exclude_defaults=True),
                                             "min_accuracy": search.min_accuracy, "augment": search.augment,
                                             "data": describe(opts.data).to_dict()})
    plots.search_history(tl, out / "history.png",
                         f"{search.name}, params <= {search.budget.max_params:,}: best validation accuracy over time",
                         search.min_accuracy)
    plots.search_pareto(df, out / "pareto.png", f"{search.name}: accuracy vs parameters",
                        search.budget.max_params)
    return summary


def confirm_seeds(winner_seed: int, k: int) -> list[int]:
    """K seeds the winner was not selected with: 0, 1, 2, ... skipping its search seed."""
    return [s for s in range(k + 1) if s != winner_seed][:k]


def confirm_winner(out: Path, opts: SearchOptions, summary: SearchSummary, k: int, on_epoch=None):
    """The final-model protocol on the winner: retrain OUT/best.yaml with K fresh seeds on the
    full training set (OUT/confirm/), record the median test accuracy in summary.json."""
    from budgetnet.report.results import confirm

    seeds = confirm_seeds(summary.best["seed"], k)
    r = confirm(out / "best.yaml", out / "confirm", tuple(seeds), opts.data, on_epoch, subset=opts.subset,
                full_train=True)
    summary.confirm = {"seeds": seeds, "test_acc": [x.test_acc for x in r.seeds],
                       "median_test_acc": r.median_test_acc, "dir": "confirm"}
    _write_summary(out, summary)
    return r


def _write_summary(out: Path, summary: SearchSummary) -> None:
    data = json.loads((out / "summary.json").read_text())
    atomic.write_json(out / "summary.json", {**data, **summary.__dict__})


def _minutes(seconds: float | None, floor: float | None = 0.0) -> str:
    if floor is None:
        return "n/a (no floor)"
    return "none" if seconds is None else f"{seconds / 60:.1f} min after the first trial started"


def budget_text(b) -> str:
    """'params <= 6,999, int8 RAM <= 2,500 B', ... for the limits a budget gives."""
    parts = [("params", b.max_params, ""), ("MACs", b.max_macs, ""), (f"{b.dtype} flash", b.max_model_bytes, " B"),
             (f"{b.dtype} RAM", b.max_peak_activation_bytes, " B")]
    return ", ".join(f"{what} <= {limit:,}{unit}" for what, limit, unit in parts if limit is not None)


def floor_text(floor: float | None) -> str:
    return "none (validation accuracy maximised)" if floor is None else f"{100 * floor:.2f}%"


def _yaml(raw: dict) -> str:
    import yaml
    return yaml.safe_dump(raw, sort_keys=False)


def _markdown(df: pd.DataFrame, search: SearchDef, s: SearchSummary) -> str:
    head = (f"# Search `{search.name}`: {search.description}\n\n"
            f"Budget: {search.budget.model_dump(exclude_defaults=True)}; accuracy floor {floor_text(search.min_accuracy)} "
            f"(validation during the search; test only for the retrained winner).\n\n"
            f"{s.trials} samples: {s.complete} complete, {s.pruned} pruned, {s.over_budget} over budget "
            f"(never trained, {s.over_budget_train_seconds:.0f} s of training), {s.deferred} deferred by the cost-aware "
            f"start (never trained), {s.invalid} invalid, "
            f"{s.failed} failed. Epochs run {s.epochs_run} of {s.epochs_full} a search without pruning would run. "
            f"Wall time {s.wall_seconds:.0f} s; first feasible trial (validation >= floor, within budget): "
            f"{_minutes(s.first_feasible_s, search.min_accuracy)}. Rungs (epochs): {s.rungs}.\n\n")
    if df.empty:
        return head + "No trials.\n"
    show = df.copy()
    for col in show.columns:  # a pipe inside a cell would end it (studies before arch used " / ")
        show[col] = show[col].map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v)
    if "fill" in show:
        show["fill"] = show["fill"].map(lambda v: f"{v:.3f}" if pd.notna(v) else "")
    for col in ("val_acc", "best_val_acc", "test_acc", "val_lo", "val_hi"):
        if col in show:
            show[col] = show[col].map(lambda v: f"{100 * v:.2f}" if pd.notna(v) else "")
    return head + show.to_markdown(index=False) + "\n"
