"""The cross-machine spread of a result: one seed of a spec trained under several CPU kernel
choices on this machine.

CPU kernels (ATen's vectorised paths, oneDNN's convolutions, MKL's GEMMs) pick their code by the
processor's instruction sets and the thread count, and sum in other orders: the same seed is
bit-identical on one machine only. Each setting below makes this machine compute as another
would (environment variables read when torch starts), so the final-epoch test accuracies side
by side are the spread a claim must survive on a machine we never saw.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from budgetnet import atomic
from budgetnet.errors import BudgetnetError
from budgetnet.spec.schema import load_spec
from budgetnet.training.runs import TrainProcess


@dataclass(frozen=True)
class Setting:
    name: str
    env: dict[str, str]  # read by torch when it loads
    threads: int = 1


SETTINGS = {s.name: s for s in (
    Setting("default", {}),  # this machine's own kernels, one thread (as confirmations run)
    Setting("avx2-machine", {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                             "MKL_ENABLE_INSTRUCTIONS": "AVX2"}),  # a machine without AVX-512
    Setting("aten-avx2", {"ATEN_CPU_CAPABILITY": "avx2"}),
    Setting("aten-default", {"ATEN_CPU_CAPABILITY": "default"}),  # ATen unvectorised
    Setting("onednn-avx2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    Setting("onednn-sse41", {"ONEDNN_MAX_CPU_ISA": "SSE41"}),
    Setting("mkl-avx2", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
    # the lowest common instruction sets in all three libraries: what CI retrains with
    Setting("portable", {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"}),
    Setting("threads-2", {}, 2),
)}
_ALL_VARIABLES = {k for s in SETTINGS.values() for k in s.env}  # cleared before a setting's own are set
DEFAULT_SETTINGS = tuple(SETTINGS)
RECORD = "spread.json"
ELSEWHERE = "elsewhere.json"  # the same seed retrained on other machines, as reported there


def run_setting(spec_path: Path, out: Path, seed: int, setting: Setting, full_train: bool,
                subset: int | None = None, data: str | None = None) -> Path:
    """Train one seed under one setting in a fresh process and wait for it; resumable."""
    return start_setting(spec_path, out, seed, setting, full_train, subset, data).wait()


def start_setting(spec_path: Path, out: Path, seed: int, setting: Setting, full_train: bool,
                  subset: int | None = None, data: str | None = None, keep_epochs=()) -> TrainProcess:
    """Start one seed's training under one setting in a fresh process (the variables are read
    when torch loads), into OUT/<setting>; resumed when OUT/<setting>/checkpoint.pt is there."""
    env = {k: v for k, v in os.environ.items() if k not in _ALL_VARIABLES} | setting.env
    return TrainProcess(spec_path, out / setting.name, seed, threads=setting.threads, full_train=full_train,
                        subset=subset, data=data, env=env, label=f" under '{setting.name}'", keep_epochs=keep_epochs)


def measure(spec, out: str | Path, seed: int = 0, settings=DEFAULT_SETTINGS, full_train: bool = False,
            jobs: int = 1, on_done=None, subset: int | None = None, data: str | None = None) -> dict:
    """Train `seed` of `spec` under each setting (`jobs` at a time) and write OUT/spread.json and
    OUT/spread.md; every finished setting in OUT is included, so runs made earlier add up."""
    out, spec = Path(out), load_spec(spec)
    if spec.is_text:
        raise BudgetnetError(f"{spec.origin}: spread compares test accuracies of an image classifier; "
                             f"{spec.name} is a text model")
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise BudgetnetError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    atomic.make_dir(out)
    spec_path = out / "spec.yaml"
    atomic.write_text(spec_path, spec.to_yaml())
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for run_dir in pool.map(lambda s: run_setting(spec_path, out, seed, SETTINGS[s], full_train, subset, data),
                                settings):
            if on_done:
                on_done(run_dir)
    return write_record(out)


def write_record(out: str | Path) -> dict:
    """OUT/spread.json and OUT/spread.md from the finished runs under OUT."""
    out = Path(out)
    record = build_record(out)
    atomic.write_json(out / RECORD, record)
    atomic.write_text(out / "spread.md", markdown([record]) + "\n")
    return record


def build_record(out: Path) -> dict:
    """The spread of the finished runs under OUT (and OUT/elsewhere.json), written nowhere."""
    rows = []
    for name, setting in SETTINGS.items():
        metrics = out / name / "metrics.json"
        if metrics.is_file():
            m = json.loads(metrics.read_text())
            rows.append({"setting": name, "env": setting.env, "threads": m["threads"], "test_acc": m["test_acc"],
                         "losses": [h["train_loss"] for h in m["history"]], "seconds": m["seconds"],
                         "name": m["name"], "params": m["params"], "seed": m["seed"], "epochs": m["epochs"],
                         "full_train": m.get("full_train", False)})
    if not rows:
        raise BudgetnetError(f"{out}: no finished run to report")
    first = rows[0]
    for r in rows:
        if _identity(r) != _identity(first):
            raise BudgetnetError(f"{out / r['setting']}: a run of another spec, seed, schedule or split than "
                                 f"{out / first['setting']}")
    reference = next((r for r in rows if r["setting"] == "default"), first)
    elsewhere = _elsewhere(out)
    accs = [r["test_acc"] for r in rows] + [r["test_acc"] for r in elsewhere]
    return {"name": first["name"], "params": first["params"], "seed": first["seed"], "epochs": first["epochs"],
            "full_train": first["full_train"], "reference": reference["setting"],
            "runs": [{"setting": r["setting"], "env": r["env"], "threads": r["threads"], "test_acc": r["test_acc"],
                      "seconds": r["seconds"], "final_loss": r["losses"][-1],
                      "same_arithmetic": r["losses"] == reference["losses"]} for r in rows],
            "elsewhere": elsewhere,
            "min_test_acc": min(accs), "max_test_acc": max(accs), "spread": max(accs) - min(accs)}


def _identity(run: dict) -> tuple:
    """What makes runs the same result's: the model, its seed, its schedule's length, its split."""
    return run["name"], run["params"], run["seed"], run["epochs"], run["full_train"]


def _elsewhere(out: Path) -> list[dict]:
    """Retrains of the same spec and seed on other machines (OUT/elsewhere.json: a list of
    {machine, setting, threads, test_acc, source}): measured there, counted in the spread here."""
    path = out / ELSEWHERE
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text())
        return [{"machine": str(e["machine"]), "setting": str(e["setting"]), "threads": int(e["threads"]),
                 "test_acc": float(e["test_acc"]), "source": str(e["source"])} for e in entries]
    except (ValueError, KeyError, TypeError) as e:
        raise BudgetnetError(f"{path}: not a list of {{machine, setting, threads, test_acc, source}} ({e})") from None


def markdown(records: list[dict]) -> str:
    """One row per model and seed, one column per setting: final-epoch test accuracy (%);
    `=` marks a run whose loss history is bit-identical to the reference's (the setting changed nothing)."""
    names = [n for n in SETTINGS if any(n in {r["setting"] for r in rec["runs"]} for rec in records)]
    lines = ["| model | params | seed | " + " | ".join(names) + " | other machines | min | max | spread |",
             "|---|---:|---:|" + "---:|" * len(names) + "---|---:|---:|---:|"]
    for rec in records:
        by = {r["setting"]: r for r in rec["runs"]}
        cells = [(f"{100 * by[n]['test_acc']:.2f}" + ("=" if by[n]["same_arithmetic"] and n != rec["reference"] else ""))
                 if n in by else "-" for n in names]
        other = ", ".join(f"{100 * e['test_acc']:.2f} ({e['setting']})" for e in rec.get("elsewhere", [])) or "-"
        lines.append(f"| {rec['name']} | {rec['params']:,} | {rec['seed']} | " + " | ".join(cells) + f" | {other}" +
                     f" | {100 * rec['min_test_acc']:.2f} | {100 * rec['max_test_acc']:.2f} | {100 * rec['spread']:.2f} |")
    return "\n".join(lines)


def collect(reports: str | Path) -> list[dict]:
    """Every spread.json under `reports`, sorted by params."""
    return sorted((json.loads(p.read_text()) | {"report": str(p.parent)} for p in Path(reports).rglob(RECORD)),
                  key=lambda r: (r["params"], r["name"], r["seed"]))
