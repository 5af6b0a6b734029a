"""Results the project stands behind: a spec trained with several seeds (`confirm`), and the
index of every shipped model (`reports/results.json`) with the README table and Pareto plot
generated from it."""
from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from budgetnet import atomic
from budgetnet.report import plots
from budgetnet.training import spread
from budgetnet.model.compile import summarize
from budgetnet.data.datasets import EMBEDDED_NAME, MNIST_FINGERPRINT, describe
from budgetnet.errors import BudgetnetError, DataError
from budgetnet.training.runs import train_process, train_run
from budgetnet.spec.schema import load_spec

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
TARGET = 0.994  # final-epoch test accuracy of the median seed
# The claim rule (README, Results): the median seed >= TARGET, and that seed retrained under every
# kernel setting of its spread table (budgetnet spread; the portable one CI retrains with among
# them) and on every other machine reported there, still >= TARGET.
CI_SETTING = "portable"
BUDGETS = (8000, 7000, 6000, 5000, 4000, 3000)  # "fewer than N parameters"
# uNAS's MNIST bounds (Liberis et al. 2021, configs/cnn_mnist_aging.py): int8 model <= 4,500 B, peak
# activations <= 2,500 B (ours counts the network input too, so it is the stricter of the two);
# the deployment goal is the MNIST target itself in int8 (onnxruntime, median of the seeds) within them
UNAS_BOUNDS = {"int8_weight_bytes": 4500, "peak_activation_bytes": 2500}
DEPLOYMENT_GOAL = TARGET


@dataclass(frozen=True)
class SeedRun:
    """One seed of a confirmation: its final-epoch accuracies (validation None with --full-train)."""
    seed: int
    val_acc: float | None
    test_acc: float
    seconds: float
    epochs: int
    train_images: int
    checkpoint: str  # relative to the confirmation's folder


@dataclass(frozen=True)
class Confirmation:
    """What `budgetnet confirm` records in confirm.json (`to_dict`, the same keys in the same order)."""
    name: str
    params: int
    macs: int
    epochs: int
    budget: dict
    full_train: bool
    train_images: int
    seeds: list[SeedRun]
    median_test_acc: float
    min_test_acc: float
    data: dict

    def to_dict(self) -> dict:
        return asdict(self)


def confirm(spec, out: str | Path, seeds=(0, 1, 2), data: str | None = None, on_epoch=None,
            subset: int | None = None, full_train: bool = False, jobs: int = 1, on_done=None) -> Confirmation:
    """Train `spec` once per seed with its own recipe (resumable: finished seeds are kept) and
    write OUT/confirm.json with the final-epoch validation and test accuracy of every seed
    finished in OUT (these and any run earlier). `full_train`: train on all training images, the
    final-model protocol once the spec and recipe were selected on the validation split."""
    spec = load_spec(spec)
    if spec.is_text:
        raise BudgetnetError(f"{spec.origin}: confirm records test accuracies of an image classifier; "
                             "a text model's runs are `budgetnet train` (bits per character)")
    facts = describe(data)
    out, spec = Path(out), spec.fitted(facts.shape)
    if jobs > 1:  # one process a seed, one thread each (seedK/log.txt)
        atomic.make_dir(out)
        atomic.write_text(out / "spec.yaml", spec.to_yaml())
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for run_dir in pool.map(lambda seed: train_process(out / "spec.yaml", out / f"seed{seed}", seed,
                                                               full_train=full_train, subset=subset, data=data,
                                                               label=f" of seed {seed}"), seeds):
                if on_done:
                    on_done(run_dir)
    for seed in seeds:
        run_dir = out / f"seed{seed}"
        if not (run_dir / "metrics.json").is_file():
            train_run(spec, run_dir, seed=seed, data=data, resume=(run_dir / "checkpoint.pt").is_file(),
                      on_epoch=on_epoch, subset=subset, full_train=full_train)
    # every finished seed in OUT, so seeds run as separate (parallel) commands add up
    s = summarize(spec)
    runs, recorded = [], None
    for run_dir in sorted(out.glob("seed*/"), key=lambda d: d.name):
        if not (run_dir / "metrics.json").is_file() or not run_dir.name[4:].isdigit():
            continue
        m = json.loads((run_dir / "metrics.json").read_text())
        if (m["name"], m["params"]) != (spec.name, s.params):
            raise BudgetnetError(f"{run_dir}: a run of {m['name']} ({m['params']:,} params), not of this spec")
        if m.get("full_train", False) != full_train:
            raise BudgetnetError(f"{run_dir}: trained with full_train={m.get('full_train', False)}; "
                                 f"this confirmation uses full_train={full_train}")
        run_data = m.get("data") or {"name": EMBEDDED_NAME, "fingerprint": MNIST_FINGERPRINT}  # runs before data facts
        if run_data["fingerprint"] != facts.fingerprint:
            raise DataError(f"{run_dir}: trained on {run_data['name']}, not on {facts.name}")
        recorded = recorded or m.get("data")
        runs.append(SeedRun(m["seed"], m["val_acc"], m["test_acc"], m["seconds"], m["epochs"], m["train_images"],
                            checkpoint=f"{run_dir.name}/checkpoint.pt"))
    runs.sort(key=lambda r: r.seed)
    result = Confirmation(
        name=spec.name, params=s.params, macs=s.macs, epochs=spec.train.epochs,
        budget=spec.budget.model_dump(exclude_defaults=True), full_train=full_train,
        train_images=max(r.train_images for r in runs), seeds=runs,
        median_test_acc=statistics.median(r.test_acc for r in runs), min_test_acc=min(r.test_acc for r in runs),
        data=recorded or facts.to_dict())
    atomic.write_text(out / "spec.yaml", spec.to_yaml())
    atomic.write_json(out / "confirm.json", result.to_dict())
    return result


def pick(confirmations: list[str | Path], out: str | Path, name: str) -> dict:
    """Of several confirmations (confirm.json folders, trained on a validation split), the one with
    the highest median validation accuracy (ties: fewer parameters), its spec written to OUT as
    NAME with where it came from. Never reads a test accuracy."""
    arms = []
    for folder in map(Path, confirmations):
        path = folder / "confirm.json"
        if not path.is_file():
            raise BudgetnetError(f"{folder}: no confirm.json (run budgetnet confirm first)")
        c = json.loads(path.read_text())
        vals = [r["val_acc"] for r in c["seeds"]]
        if c.get("full_train") or any(v is None for v in vals):
            raise BudgetnetError(f"{folder}: trained on every training image (--full-train): no validation "
                                 "accuracy to select on")
        arms.append({"folder": str(folder), "name": c["name"], "params": c["params"], "val_acc": vals,
                     "median_val_acc": statistics.median(vals)})
    best = max(arms, key=lambda a: (a["median_val_acc"], -a["params"]))
    raw = load_spec(Path(best["folder"]) / "spec.yaml").to_dict()
    raw["name"] = name
    raw["source"] = (f"picked from {len(arms)} confirmations: {best['name']} (highest median validation "
                     f"accuracy of {len(best['val_acc'])} seeds: {100 * best['median_val_acc']:.2f}%)")
    atomic.write_text(out, load_spec(raw).to_yaml())
    return {"picked": best["name"], "out": str(out), "arms": arms}


def collect(reports: str | Path, flagship: str | None = None) -> dict:
    """reports/*/confirm.json -> the results index (paths relative to the repository root).
    `models` are the MNIST confirmations, judged against the MNIST target by the claim rule;
    `other_data` the confirmations on other data, listed with their data and figures."""
    reports = Path(reports)
    root = reports.resolve().parent
    models, other = [], []
    for path in sorted(reports.rglob("confirm.json")):
        c = json.loads(path.read_text())
        def rel(p: Path) -> str:
            return str(p.resolve().relative_to(root))

        median_run = sorted(c["seeds"], key=lambda r: r["test_acc"])[len(c["seeds"]) // 2]
        data = c.get("data") or {"name": EMBEDDED_NAME, "fingerprint": MNIST_FINGERPRINT}  # before data facts
        (models if data["fingerprint"] == MNIST_FINGERPRINT else other).append(_deployment(path.parent, c) | {
            "name": c["name"], "params": c["params"], "macs": c["macs"], "epochs": c["epochs"],
            "budget": c["budget"], "spec": rel(path.parent / "spec.yaml"),
            "full_train": c.get("full_train", False),
            "train_images": c.get("train_images", 55000),  # confirmations that did not say trained on the MNIST split
            "data": {"name": _data_label(data), "fingerprint": data["fingerprint"]},
            "checkpoint": rel(path.parent / median_run["checkpoint"]), "checkpoint_seed": median_run["seed"],
            "test_acc": {str(r["seed"]): r["test_acc"] for r in c["seeds"]},
            "val_acc": {str(r["seed"]): r["val_acc"] for r in c["seeds"]},
            "median_test_acc": c["median_test_acc"], "report": rel(path.parent),
        })
    _attach_spreads(models, reports, root)
    models.sort(key=lambda m: m["params"])
    _label(models)
    other.sort(key=lambda m: (m["data"]["name"], m["params"]))
    if flagship is not None and flagship not in {m["label"] for m in models}:
        raise ValueError(f"flagship {flagship!r} is not among the confirmed models")
    # the flagship is the model CI retrains from scratch (tests/test_results.py)
    return {"generated_by": "budgetnet results", "flagship": flagship, "target": TARGET,
            "reached": reached_by_budget(models), "deployment": deployment_summary(models), "models": models,
            "other_data": other}


def _deployment(folder: Path, c: dict) -> dict:
    """What a device holds of a confirmed model, counted from its spec (int8 weight bytes, peak
    activation bytes at batch 1, ours and uNAS's convention), and the int8 test accuracy of every
    seed exported with `budgetnet export --int8` into seedN/export/ (onnxruntime-measured)."""
    mem = summarize(load_spec(folder / "spec.yaml")).memory
    int8 = {}
    for r in c["seeds"]:
        record = folder / f"seed{r['seed']}" / "export" / "export.json"
        if record.is_file():
            int8[str(r["seed"])] = json.loads(record.read_text())["int8"]["test_acc"]
    return {"int8_weight_bytes": mem.int8_weight_bytes, "peak_activation_bytes": mem.peak_bytes("int8"),
            "peak_activation_bytes_unas": mem.peak_bytes("int8", exclude_input=True), "int8_test_acc": int8,
            "median_int8_test_acc": statistics.median(int8.values()) if len(int8) == len(c["seeds"]) else None}


def within_unas(m: dict) -> bool:
    return (m["int8_weight_bytes"] <= UNAS_BOUNDS["int8_weight_bytes"]
            and m["peak_activation_bytes"] <= UNAS_BOUNDS["peak_activation_bytes"])


def deployment_summary(models: list[dict]) -> dict:
    """The best int8 accuracy (median of seeds, every seed exported) within uNAS's MNIST bounds."""
    inside = [m for m in models if within_unas(m) and m["median_int8_test_acc"] is not None]
    best = max(inside, key=lambda m: (m["median_int8_test_acc"], -m["int8_weight_bytes"]), default=None)
    return {"bounds": UNAS_BOUNDS, "goal_int8_test_acc": DEPLOYMENT_GOAL, "best": best and best["name"],
            "best_report": best and best["report"],
            "best_median_int8_test_acc": best and best["median_int8_test_acc"],
            "reached": bool(best and best["median_int8_test_acc"] >= DEPLOYMENT_GOAL)}


def _data_label(data: dict) -> str:
    """A short name for a table: the folder or file the data came from, MNIST for the embedded."""
    if data["fingerprint"] == MNIST_FINGERPRINT:
        return "MNIST"
    return Path(data.get("ref") or data["name"]).name


def _attach_spreads(models: list[dict], reports: Path, root: Path) -> None:
    """Each model's kernel spread (its median seed under every setting measured) and its claim."""
    records = spread.collect(reports)
    for m in models:
        rec = next((r for r in records if (r["name"], r["params"], r["seed"], r["epochs"], r["full_train"]) ==
                    (m["name"], m["params"], m["checkpoint_seed"], m["epochs"], m["full_train"])), None)
        m["kernels"] = None if rec is None else {
            "report": str(Path(rec["report"]).resolve().relative_to(root)),
            "test_acc": {r["setting"]: r["test_acc"] for r in rec["runs"]},
            "elsewhere": [e["test_acc"] for e in rec.get("elsewhere", [])],
            "min_test_acc": rec["min_test_acc"], "spread": rec["spread"]}
        m["claim"] = claim(m)


def claim(m: dict) -> str:
    """`reaches`: the median seed >= TARGET and so is its retrain under every measured kernel
    setting, CI's among them; `unverified`: the median reaches, its spread was not measured (or
    not under CI's setting); `flips`: another machine's arithmetic took it below; `no`: the median
    does not reach."""
    if m["median_test_acc"] < TARGET:
        return "no"
    if m["kernels"] is None:
        return "unverified"
    if m["kernels"]["min_test_acc"] < TARGET:
        return "flips"
    return "reaches" if CI_SETTING in m["kernels"]["test_acc"] else "unverified"


def _label(models: list[dict]) -> None:
    """Each model's label: its name, with its size where names repeat (every search's winner is
    `best_<search>`), and its epochs where both do, so that `reached` and `flagship` name one model each."""
    names, sizes = Counter(m["name"] for m in models), Counter((m["name"], m["params"]) for m in models)
    for m in models:
        m["label"] = (m["name"] if names[m["name"]] == 1 else f"{m['name']} ({m['params']:,})"
                      if sizes[m["name"], m["params"]] == 1 else f"{m['name']} ({m['params']:,}, {m['epochs']} epochs)")


def reached_by_budget(models: list[dict]) -> dict:
    """The smallest model reaching the target under each budget, and overall (None: none yet), by label."""
    reached = sorted((m for m in models if m["claim"] == "reaches"), key=lambda m: m["params"])
    out = {f"under_{b}": next((m["label"] for m in reached if m["params"] < b), None) for b in BUDGETS}
    out["smallest"] = reached[0]["label"] if reached else None
    return out


CLAIM_TEXT = {"reaches": "yes", "no": "no", "unverified": "median only (not measured under the portable setting)",
              "flips": "no: flips under other kernels"}


def headline(index: dict) -> list[str]:
    """The labels a user picks from: the flagship, the smallest model reaching the target, the
    best deployment model (each once)."""
    picks = [index.get("flagship"), index.get("reached", {}).get("smallest"), index["deployment"].get("best")]
    return [label for i, label in enumerate(picks) if label and label not in picks[:i]]


def table(index: dict, labels: list[str] | None = None) -> str:
    """The results table: every model, or those `labels` name, in the index's order."""
    lines = ["| model | params | MACs | int8 weights (B) | peak RAM, int8 (B) | epochs | train images | "
             "test accuracy per seed (%) | median (%) | int8 median (%) | median seed, worst kernel (%) | reaches 99.40% |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|:---:|"]
    for m in index["models"]:
        if labels is not None and m["label"] not in labels:
            continue
        per_seed = ", ".join(f"{100 * v:.2f}" for v in m["test_acc"].values())
        ok = CLAIM_TEXT[m["claim"]]
        worst = "-" if m["kernels"] is None else f"[{100 * m['kernels']['min_test_acc']:.2f}]({m['kernels']['report']})"
        star = " (flagship)" if m["label"] == index.get("flagship") else ""
        int8 = "-" if m["median_int8_test_acc"] is None else f"{100 * m['median_int8_test_acc']:.2f}"
        lines.append(f"| [{m['name']}]({m['report']}){star} | {m['params']:,} | {m['macs']:,} | "
                     f"{m['int8_weight_bytes']:,} | {m['peak_activation_bytes']:,} | {m['epochs']} | "
                     f"{m['train_images']:,} | "
                     f"{per_seed} | {100 * m['median_test_acc']:.2f} | {int8} | {worst} | {ok} |")
    return "\n".join(lines)


def other_table(index: dict) -> str:
    """Confirmations on other data: no MNIST target, so no claim; the figures as measured."""
    if not index.get("other_data"):
        return ""
    lines = ["| model | data | params | MACs | epochs | train images | test accuracy per seed (%) | median (%) |",
             "|---|---|---:|---:|---:|---:|---|---:|"]
    for m in index["other_data"]:
        per_seed = ", ".join(f"{100 * v:.2f}" for v in m["test_acc"].values())
        lines.append(f"| [{m['name']}]({m['report']}) | {m['data']['name']} | {m['params']:,} | {m['macs']:,} | "
                     f"{m['epochs']} | {m['train_images']:,} | {per_seed} | {100 * m['median_test_acc']:.2f} |")
    return "\n".join(lines)


def reached_line(index: dict) -> str:
    names = {k: (f"`{v}`" if v else "none yet") for k, v in index.get("reached", {}).items()}
    parts = [f"under {int(k.removeprefix('under_')):,} params: {v}" for k, v in names.items() if k != "smallest"]
    d = index["deployment"]
    deploy = (f"`{d['best']}`, int8 test accuracy {100 * d['best_median_int8_test_acc']:.2f}% (median of seeds, "
              f"onnxruntime)" if d["best"] else "none exported yet")
    return (f"Smallest model reaching {100 * TARGET:.2f}% (by the claim rule): " + "; ".join(parts)
            + f"; overall: {names.get('smallest', 'none yet')}.\n\n"
            + f"Best int8 model within uNAS's MNIST bounds (int8 weights <= {d['bounds']['int8_weight_bytes']:,} B, "
              f"peak activations <= {d['bounds']['peak_activation_bytes']:,} B, the input counted): {deploy}; "
              f"goal {100 * d['goal_int8_test_acc']:.1f}%: {'reached' if d['reached'] else 'not reached'}.")


def write_results(reports: str | Path = "reports", readme: str | Path | None = "README.md",
                  flagship: str | None = None) -> dict:
    reports = Path(reports)
    previous = reports / "results.json"
    if flagship is None and previous.is_file():
        flagship = json.loads(previous.read_text()).get("flagship")
    index = collect(reports, flagship)
    atomic.write_json(reports / "results.json", index)
    plots.results_pareto(index["models"], reports / "pareto.png")
    plots.deployment(index["models"], UNAS_BOUNDS, DEPLOYMENT_GOAL, within_unas, reports / "deployment.png")
    others = other_table(index)
    others = f"\nOn other data (no claim: the target is MNIST's):\n\n{others}\n" if others else ""
    for path, rows in ((readme, headline(index)), (reports / "README.md", None)):  # the front door; the full notebook
        if path and Path(path).is_file():
            block = (f"{README_START}\n<!-- generated by `budgetnet results`: do not edit by hand -->\n"
                     f"{table(index, rows)}\n\n{reached_line(index)}\n{others}{README_END}")
            if Path(path).parent.resolve() == reports.resolve():  # its links are relative to reports/
                block = block.replace(f"]({reports.name}/", "](")
            text = Path(path).read_text()
            pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
            if pattern.search(text):
                atomic.write_text(path, pattern.sub(lambda _: block, text))
    return index
