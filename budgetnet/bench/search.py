"""Search power per CPU-hour: searches run back to back under the same budget and wall time,
each measured by the time to its first feasible trial and its best validation accuracy over
time; and trials per hour of N one-thread workers against one worker with every thread.

An absolute figure: run it on a quiet machine. A setup whose study already exists in OUT is
analysed as it is, not run again (delete its folder to rerun), so a long benchmark resumes.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import optuna

from budgetnet import atomic
from budgetnet.search.options import SearchOptions, Startup
from budgetnet.search.record import StudyRecord
from budgetnet.search.run import run_search
from budgetnet.search.definition import load_search
from budgetnet.search.report import finalize
from budgetnet.search.timeline import timeline

MINUTES = (10, 20, 30, 60)
CORES = os.cpu_count() or 1

# name -> (search definition, options): the new default and the search as it was before (lean7k
# with its hand-picked references, as it always ran: the warm-start flag applies to the others)
SETUPS = {
    "default": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1}),
    # the default with a 3-epoch rung 0
    "rungs-3-15": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "rungs": (3, 15)}),
    # the levers: Sobol start-up and the cost-aware first half hour, then with the prior too
    "sobol-cost": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "startup": Startup.sobol,
                               "cost_ramp": 1800.0}),
    "sobol-cost-prior": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "startup": Startup.sobol,
                                     "cost_ramp": 1800.0, "prior": True, "rungs": (3, 15)}),
    "lean7k": ("lean7k", {"pruner": "quartile", "workers": 1, "threads": CORES, "warm_start": True}),
    "general-quartile": ("general", {"pruner": "quartile", "workers": CORES, "threads": 1}),
    "default-1worker": ("general", {"pruner": "rungs", "workers": 1, "threads": CORES}),
    "three-rungs": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "rungs": (3, 7, 15)}),
    # lever 3's next candidate: a one-epoch rung 0, then 7 epochs (the rung that ranked the <7K
    # fidelity candidates best, Spearman 0.83) before a trial earns the full 15
    "rungs-1-7-15": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "rungs": (1, 7, 15)}),
    # the default started from the prior of the committed studies' one-epoch readings
    "prior": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "prior": True}),
    # a 5-epoch top rung (every trial a complete 5-epoch schedule), cold and with the prior
    "rungs-1-5": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "epochs": 5}),
    "rungs-1-5-prior": ("general", {"pruner": "rungs", "workers": CORES, "threads": 1, "epochs": 5, "prior": True}),
}


def study_in(out: Path) -> optuna.Study | None:
    """The study in OUT/study.db (None: none there)."""
    db = out / "study.db"
    if not db.is_file():
        return None
    url = f"sqlite:///{db.resolve()}"
    names = optuna.get_all_study_names(url)
    return optuna.load_study(study_name=names[0], storage=url) if names else None


def bench_setup(name: str, out: Path, max_params: int, timeout: float, warm_start: bool, seed: int = 0,
                subset: int | None = None, epochs: int | None = None, on_trial=None) -> dict:
    """Run one setup (unless its study exists in OUT/NAME) and measure it."""
    search_name, overrides = SETUPS[name]
    search = load_search(search_name).with_budget(max_params=max_params)
    out = out / name
    opts = SearchOptions(out=out, trials=None, timeout=timeout, seed=seed, subset=subset,
                         **{"warm_start": warm_start, "epochs": epochs, **overrides})
    study = study_in(out)
    ran = study is None
    if ran:
        study = run_search(search, opts, on_trial)
    result = measure_setup(name, study, out, max_params, timeout, ran)
    # leaderboard, best.yaml, history.png; its wall time is the study's own (first start to last end)
    finalize(study, search, opts, 0.0, retrain=False, record_command=ran)
    atomic.write_json(out / "bench.json", result)
    return result


def measure_setup(name: str, study: optuna.Study, out: Path, max_params: int, timeout: float,
                  ran: bool = False) -> dict:
    """What one setup's study (in OUT) shows: the benchmark's figures, read from the study alone."""
    search_name, overrides = SETUPS[name]
    search = load_search(search_name).with_budget(max_params=max_params)
    floor = search.min_accuracy
    tl = timeline(study, floor, max_params)
    recorded = StudyRecord.of(study)
    return {"search": name, "definition": search_name, "budget": max_params, "floor": floor,
            "workers": overrides["workers"], "threads_per_worker": overrides["threads"],
            "pruner": overrides["pruner"], "rungs": recorded.rungs,  # a study from before the record: its reference
            "warm_start": bool(search.reference) if recorded.warm_start is None else recorded.warm_start,
            # what the study recorded (a study that recorded none: random, no ramp, no prior)
            "startup": recorded.startup or "random", "cost_ramp_s": recorded.cost_ramp or 0.0,
            "prior": bool(recorded.prior), "engine": recorded.engine or "reference",
            "timeout_s": timeout, "wall_s": round(tl.wall_seconds, 1), "trained_trials": tl.trained,
            "complete_trials": len(tl.points),
            "trials_per_hour": round(tl.trials_per_hour(), 1),
            "first_feasible_s": None if tl.first_feasible_s is None else round(tl.first_feasible_s, 1),
            "best_val_at_min": {str(m): v for m, v in tl.best_val_at(MINUTES).items()},
            "best_val": max((p.val_acc for p in tl.points), default=None),
            "study": str(out / "study.db"), "ran_now": ran}


def bench_search(setups: list[str], out: Path, max_params: int, timeout: float, warm_start: bool,
                 seed: int = 0, subset: int | None = None, epochs: int | None = None, on_trial=None) -> list[dict]:
    return [bench_setup(name, out, max_params, timeout, warm_start, seed, subset, epochs, on_trial) for name in setups]


# -------------------------------------------------------------------------- workers x threads
def _train_jobs(spec, jobs: int, epochs: int, subset: int | None, threads: int, seed0: int) -> None:
    import torch

    from budgetnet.data.datasets import load_dataset
    from budgetnet.training.loop import train

    torch.set_num_threads(threads)
    data = load_dataset(subset=subset)
    for i in range(jobs):
        train(spec, data, epochs=epochs, seed=seed0 + i, eval_test=False)


def bench_workers(spec: str = "best_lean7k", jobs: int = 4, epochs: int = 2, subset: int | None = None,
                  cores: int = CORES) -> dict:
    """Wall time of `jobs` identical short trainings (a search's trials) done by `cores` one-thread
    worker processes, against one worker with `cores` threads doing them one after another."""
    from budgetnet.spec.schema import load_spec

    raw = load_spec(spec).to_dict()
    ctx = mp.get_context("spawn")
    timings = {}
    for label, workers, threads in (("one_worker_all_threads", 1, cores), ("worker_per_core", cores, 1)):
        share = [jobs // workers + (1 if i < jobs % workers else 0) for i in range(workers)]
        start = time.perf_counter()
        procs = [ctx.Process(target=_train_jobs, args=(raw, n, epochs, subset, threads, 100 * i))
                 for i, n in enumerate(share)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError(f"a {label} worker failed (exit codes {[p.exitcode for p in procs]})")
        timings[label] = time.perf_counter() - start
    one, per_core = timings["one_worker_all_threads"], timings["worker_per_core"]
    return {"spec": load_spec(spec).name, "jobs": jobs, "epochs": epochs, "train_images": subset, "cores": cores,
            "one_worker_all_threads_s": round(one, 1), "worker_per_core_s": round(per_core, 1),
            "one_worker_trials_per_hour": round(3600 * jobs / one, 1),
            "worker_per_core_trials_per_hour": round(3600 * jobs / per_core, 1),
            "ratio": round(one / per_core, 2)}
