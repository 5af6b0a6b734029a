"""Low-rung fidelity, measured by rank (`budgetnet bench rungs`).

Successive halving is only as good as its first rung's ranking: a candidate it does not promote
never trains the full schedule. Each low-fidelity setting (a complete schedule of E epochs on a
share of the training images, the candidate's own seed) is run on candidates whose 15-epoch
validation accuracy the committed studies hold, and scored by the Spearman rank correlation with
that accuracy, within each budget (ranking a 4K model below a 7K one is easy and says nothing),
with a bootstrap interval, and by how many of the top third (what ASHA with eta 3 promotes) it
keeps in its own top third; its cost is its training samples (epochs x images) and the seconds
it took here.

A setting equal to a committed study's rung 0 (3 epochs, every image) reuses that trial's
recorded accuracy instead of training it again (same code, same seed: the same reading); its
seconds are then the other machine's and are not counted. Results are kept per run in OUT/runs/,
so a long measurement resumes.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

from budgetnet import atomic

TOP_EPOCHS = 15
# name -> (epochs of the complete schedule, share of the training images)
SETTINGS = {"3ep": (3, 1.0), "1ep": (1, 1.0), "3ep-third": (3, 1 / 3), "2ep": (2, 1.0), "7ep": (7, 1.0)}
# the committed general-family MNIST studies with 15-epoch trials (relative to the repository root)
STUDIES = ("reports/search4k/default", "reports/search7k/default", "reports/search7k/general-quartile",
           "reports/search_power/7k/rungs-3-15", "reports/search_power/7k/sobol-cost",
           "reports/search_power/7k/sobol-cost-prior")


@dataclass(frozen=True)
class Reference:
    """A candidate with a recorded 15-epoch validation accuracy."""
    key: str                 # study folder under reports/ + candidate number
    study: str
    candidate: int
    budget: int              # max params of the study
    values: dict             # the sampled point
    seed: int
    arch: str
    top_val: float           # validation accuracy after the complete 15-epoch schedule
    rung0_val: float | None  # the study's own 3-epoch reading, where it has one


def _same_arch(a: str, b: str) -> bool:
    # older studies wrote the structure with " | " between stages
    return a.replace(" | ", " / ") == b.replace(" | ", " / ")


def references(root: Path, studies=STUDIES) -> list[Reference]:
    """Every candidate of `studies` with a complete 15-epoch trial whose recorded structure is the
    one its point fills to today (before a fix a point could fill to two structures; such pairs
    are left out), once per point and seed (a rerun study trains the same candidates again)."""
    import optuna

    from budgetnet.search.definition import load_search
    from budgetnet.search.record import StudyRecord, records
    from budgetnet.search.storage import committed_study

    refs: dict[tuple, Reference] = {}
    for folder in studies:
        url = committed_study(root, f"{folder}/study.db", "budgetnet bench rungs")
        for name in optuna.get_all_study_names(url):
            study = optuna.load_study(study_name=name, storage=url)
            budget = StudyRecord.of(study).budget["max_params"]
            family = load_search("general").with_budget(max_params=budget)
            by_candidate: dict[int, dict[int, tuple]] = {}
            for t, rec in records(study):
                if rec.complete and rec.epochs_run == rec.epochs:
                    by_candidate.setdefault(rec.candidate, {})[rec.epochs] = (t, rec)
            for cand, rungs in sorted(by_candidate.items()):
                if TOP_EPOCHS not in rungs:
                    continue
                t, top = rungs[TOP_EPOCHS]
                arch = family.candidate(t.params, TOP_EPOCHS).arch
                low = rungs.get(3, (None, None))[1]
                if not _same_arch(top.arch, arch) or (low is not None and not _same_arch(low.arch, arch)):
                    continue
                # a float read back from another study's storage may differ in its last digits
                point = (budget, top.seed, json.dumps({k: round(v, 9) if isinstance(v, float) else v
                                                       for k, v in t.params.items()}, sort_keys=True))
                key = f"{folder.removeprefix('reports/').replace('/', '-')}-{cand}"
                refs.setdefault(point, Reference(key, folder, cand, budget, dict(t.params),
                                                 top.seed, arch, top.val_acc, low.val_acc if low else None))
    return list(refs.values())


def _run_path(out: Path, ref: Reference, setting: str) -> Path:
    return out / "runs" / f"{ref.key}-{setting}.json"


def _train_one(task: tuple) -> dict:
    """Train one (reference, setting) in this process, one thread; write its result atomically."""
    import torch

    from budgetnet.data.datasets import load_dataset
    from budgetnet.search.definition import load_search
    from budgetnet.training.loop import train

    ref_dict, setting, full, path = task
    ref = Reference(**ref_dict)
    torch.set_num_threads(1)  # in a pool's process (one job per core), and in this one for one job
    epochs, share = SETTINGS[setting]
    data = load_dataset(subset=None if share == 1 else round(full * share))
    spec = load_search("general").with_budget(max_params=ref.budget).candidate(ref.values, epochs).spec
    start = time.perf_counter()
    m = train(spec, data, seed=ref.seed, eval_test=False).metrics
    row = {"key": ref.key, "budget": ref.budget, "setting": setting, "val_acc": m.val_acc,
           "seconds": round(time.perf_counter() - start, 1), "samples": epochs * len(data.train), "measured_here": True,
           "machine": this_machine()}
    atomic.write_json(Path(path), row)
    return row


def this_machine() -> str:
    """The CPU a run's seconds were measured on (its model name, the kernels torch picks, its
    cores): seconds are set against each other only between runs on one machine."""
    import os
    import platform

    import torch
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:
        names = []
    model = names[0] if names else platform.processor() or "unknown CPU"
    return f"{model}, {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores"


def measure(refs: list[Reference], settings: list[str], out: Path, jobs: int = 1, on_run=None) -> list[dict]:
    """Every (reference, setting) result: recorded, kept in OUT/runs, or trained now (`jobs`
    processes of one thread each; the cheapest settings first, so that an early look is useful)."""
    from budgetnet.data.datasets import load_dataset

    full = len(load_dataset().train)
    rows, tasks = [], []
    for setting in sorted(settings, key=lambda s: SETTINGS[s][0] * SETTINGS[s][1]):
        epochs, share = SETTINGS[setting]
        for ref in refs:
            path = _run_path(out, ref, setting)
            if setting == "3ep" and ref.rung0_val is not None:
                rows.append({"key": ref.key, "budget": ref.budget, "setting": setting, "val_acc": ref.rung0_val,
                             "seconds": None, "samples": epochs * full, "measured_here": False})
            elif path.is_file():
                rows.append(json.loads(path.read_text()))
            else:
                tasks.append((asdict(ref), setting, full, str(path)))
    if not tasks:
        return rows
    with mp.get_context("spawn").Pool(jobs) if jobs > 1 else _InProcess() as pool:
        for row in pool.imap_unordered(_train_one, tasks):
            rows.append(row)
            if on_run:
                on_run(row, len(tasks))
    return rows


class _InProcess:
    """One job: train in this process (a pool's interface, no second process)."""
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap_unordered(fn, tasks):
        return map(fn, tasks)


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def _top_third_kept(low, top) -> float:
    """Share of the top third by the 15-epoch accuracy that `low` also puts in its top third."""
    import numpy as np
    k = max(1, len(top) // 3)
    best = set(np.argsort(-np.asarray(top), kind="stable")[:k])
    picked = set(np.argsort(-np.asarray(low), kind="stable")[:k])
    return len(best & picked) / k


def analyse(refs: list[Reference], rows: list[dict], boot: int = 2000, seed: int = 0) -> dict:
    """Per setting and per budget: n, Spearman with the 15-epoch accuracy and its 95% bootstrap
    interval (candidates resampled), the top third kept; the setting's median samples and the
    median seconds of the runs made here."""
    import numpy as np

    top = {(r.budget, r.key): r.top_val for r in refs}
    result = {}
    for setting in sorted({r["setting"] for r in rows}, key=lambda s: (SETTINGS[s][0] * SETTINGS[s][1], s)):
        mine = [r for r in rows if r["setting"] == setting]
        groups = {}
        for budget in sorted({r["budget"] for r in mine}):
            pairs = [(r["val_acc"], top[(budget, r["key"])]) for r in mine if r["budget"] == budget]
            if len(pairs) < 4:
                continue
            low, hi = (np.array(x) for x in zip(*pairs))
            # one stream per setting and budget: the figures do not depend on which others ran
            rng = np.random.default_rng([seed, budget, zlib.crc32(setting.encode())])
            draws = [rng.integers(0, len(low), len(low)) for _ in range(boot)]
            rhos = [_spearman(low[i], hi[i]) for i in draws if len(set(hi[i])) > 1 and len(set(low[i])) > 1]
            groups[str(budget)] = {"n": len(low), "spearman": round(_spearman(low, hi), 3),
                                   "spearman_95": [round(float(np.quantile(rhos, q)), 3) for q in (0.025, 0.975)],
                                   "top_third_kept": round(_top_third_kept(low, hi), 2)}
        here = [r["seconds"] for r in mine if r["measured_here"]]
        epochs, share = SETTINGS[setting]
        result[setting] = {"epochs": epochs, "image_share": round(share, 3),
                           "samples": int(np.median([r["samples"] for r in mine])),
                           "median_seconds_here": round(float(np.median(here)), 1) if here else None,
                           "runs_here": len(here), "seconds_vs_1ep": _seconds_vs(rows, setting, "1ep"),
                           "by_budget": groups}
    return result


def _seconds_vs(rows: list[dict], setting: str, base: str) -> float | None:
    """Median over the candidates trained here under both of `setting`'s seconds / `base`'s, on
    one machine: the cost ratio on the same models (the medians of two settings are over different
    candidates; runs from sessions on other CPUs are not set against each other; runs from before
    the machine was recorded ran in one session)."""
    import numpy as np
    seconds = {}
    for r in rows:
        if r["measured_here"]:
            seconds.setdefault((r["budget"], r["key"], r.get("machine")), {})[r["setting"]] = r["seconds"]
    ratios = [s[setting] / s[base] for s in seconds.values() if setting in s and base in s and s[base]]
    return round(float(np.median(ratios)), 2) if ratios else None


def plot(refs: list[Reference], rows: list[dict], analysis: dict, path: Path) -> None:
    """One panel per setting: its validation accuracy against the 15-epoch one, per budget."""
    from budgetnet.figures import pyplot

    top = {(r.budget, r.key): r.top_val for r in refs}
    settings = list(analysis)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 4.0), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for budget, marker in zip(sorted({r["budget"] for r in rows}), "os^D"):
            pts = [(r["val_acc"] * 100, top[(budget, r["key"])] * 100) for r in rows
                   if r["setting"] == setting and r["budget"] == budget]
            if pts:
                ax.scatter(*zip(*pts), marker=marker, label=f"< {budget + 1:,} params", alpha=0.8)
        rhos = ", ".join(f"{b}: {g['spearman']:.2f}" for b, g in analysis[setting]["by_budget"].items())
        ax.set_title(f"{setting} (Spearman {rhos})", fontsize=9)
        ax.set_xlabel(f"validation % after {setting}")
        ax.set_ylabel("validation % after 15 epochs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic.save_figure(fig, path)
    plt.close(fig)


def bench_rungs(root: Path, out: Path, settings: list[str], jobs: int = 1, on_run=None) -> dict:
    refs = references(root)
    rows = measure(refs, settings, out, jobs, on_run)
    analysis = analyse(refs, rows)
    result = {"top_epochs": TOP_EPOCHS, "candidates": len(refs),
              "by_budget": {str(b): sum(r.budget == b for r in refs) for b in sorted({r.budget for r in refs})},
              "studies": list(STUDIES), "settings": analysis}
    atomic.write_json(out / "rungs.json", result)
    plot(refs, rows, analysis, out / "rungs.png")
    return result
