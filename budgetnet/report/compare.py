"""`budgetnet compare`: one table (Markdown + JSON) and one chart for many runs, in the spirit of
seed 003's model comparison (accuracy, F1, training time, parameters per model).

An input is a run folder (`budgetnet train`: metrics.json), a confirmation (`budgetnet confirm`:
confirm.json, several seeds), a comparison.json written earlier, or a folder holding such folders.
A run that has a checkpoint but no metrics.json yet is still going (or was stopped): it is listed
as such, with the command that continues it."""
from __future__ import annotations

import json
import shlex
import statistics
from pathlib import Path

from budgetnet import atomic
from budgetnet.report import plots
from budgetnet.training.checkpoint import read_checkpoint
from budgetnet.model.compile import summarize
from budgetnet.data.datasets import EMBEDDED_NAME
from budgetnet.errors import BudgetnetError
from budgetnet.spec.schema import load_spec

FIELDS = ("name", "source", "data", "params", "macs", "backend", "status", "val_acc", "test_acc", "f1_macro", "train_seconds",
          "images_per_s", "device", "threads", "seeds", "epochs", "train_images", "claim", "path", "command")


class CompareError(BudgetnetError):
    pass


def _read_json(path: Path, *keys: str) -> dict:
    try:
        data = json.loads(path.read_text())
        for key in keys:
            data[key]
        return data
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as e:
        why = f"no {e}" if isinstance(e, KeyError) else type(e).__name__
        raise CompareError(f"{path}: not a readable budgetnet file ({why})") from None


def collect_rows(inputs: list[str | Path]) -> list[dict]:
    rows = []
    for x in inputs:
        path = Path(x)
        if path.is_file() and path.suffix == ".json":
            rows += _read_json(path, "rows")["rows"]
        elif path.is_dir():
            rows += _rows_in(path)
        else:
            raise CompareError(f"{path}: not a run folder, a confirmation folder or a comparison.json")
    return rows


def _rows_in(folder: Path) -> list[dict]:
    if (folder / "confirm.json").is_file() or _seed_runs(folder):
        return [_confirm_row(folder)]
    if _started(folder):
        return [_run_row(folder)]
    rows = [row for sub in sorted(p for p in folder.iterdir() if p.is_dir()) for row in _rows_in(sub)]
    if not rows and not any(folder.iterdir()):
        raise CompareError(f"{folder}: empty folder")
    return rows


def _seed_runs(folder: Path) -> list[Path]:
    """`budgetnet confirm`'s seedN/ runs, finished or not, in seed order."""
    runs = [d for d in folder.glob("seed*") if d.name[4:].isdigit() and _started(d)]
    return sorted(runs, key=lambda d: int(d.name[4:]))


def _started(run: Path) -> bool:
    return (run / "metrics.json").is_file() or (run / "checkpoint.pt").is_file()


def _seed_entry(run: Path) -> dict:
    """One finished training run: metrics.json, with macro F1 computed where an older run lacks it.
    A text run has bits per character where an image run has accuracy."""
    m = _read_json(run / "metrics.json", "seed", "seconds", "epochs")
    if m.get("kind") == "text":
        return {"seed": m["seed"], "val_acc": None, "test_acc": None, "f1_macro": None, "val_bpc": m["val_bpc"],
                "test_bpc": m["test_bpc"], "seconds": round(m["seconds"], 1), "images_per_s": None,
                "tokens_per_s": m.get("tokens_per_s"), "device": m.get("device"), "threads": m.get("threads"),
                "epochs": m["epochs"], "train_images": None, "backend": m.get("backend"), "data": m["data"]["name"]}
    m = _read_json(run / "metrics.json", "test_acc", "train_images")
    f1 = m.get("f1_macro")
    if f1 is None and (run / "checkpoint.pt").is_file():
        from budgetnet.training.runs import evaluate_checkpoint  # needs the test data: only when missing
        f1 = evaluate_checkpoint(run / "checkpoint.pt").scores.f1_macro
    return {"seed": m["seed"], "val_acc": m.get("val_acc"), "test_acc": m["test_acc"], "f1_macro": f1, "seconds": round(m["seconds"], 1),
            "images_per_s": m.get("images_per_s"), "device": m.get("device"), "threads": m.get("threads"),
            "epochs": m["epochs"], "train_images": m["train_images"], "backend": m.get("backend"),
            "data": (m.get("data") or {}).get("name", EMBEDDED_NAME)}  # a run before data facts: MNIST


def _row(spec, folder: Path, seeds: list[dict], status: str = "finished", command: str | None = None) -> dict:
    s = summarize(spec)

    def median(key):
        values = [e[key] for e in seeds if e.get(key) is not None]
        return statistics.median(values) if values else None

    first = seeds[0] if seeds else {}
    return {"name": spec.name, "source": spec.source, "data": first.get("data"), "params": s.params, "macs": s.macs,
            "backend": first.get("backend") or spec.backend, "status": status, "val_acc": median("val_acc"),
            "test_acc": median("test_acc"),
            "f1_macro": median("f1_macro"), "train_seconds": median("seconds"), "images_per_s": median("images_per_s"),
            "device": first.get("device"), "threads": first.get("threads"), "seeds": seeds,
            "epochs": first.get("epochs", spec.train.epochs), "train_images": first.get("train_images"),
            "claim": spec.raw.get("notes", ""), "path": str(folder), "command": command,
            **({"kind": "text", "val_bpc": median("val_bpc"), "test_bpc": median("test_bpc"),
                "tokens_per_s": median("tokens_per_s")} if spec.is_text else {})}


def _confirm_row(folder: Path) -> dict:
    runs = _seed_runs(folder)
    finished = [r for r in runs if (r / "metrics.json").is_file()]
    going = [r for r in runs if r not in finished]
    if not going:
        return _row(load_spec(folder / "spec.yaml" if (folder / "spec.yaml").is_file() else finished[0] / "spec.yaml"),
                    folder, [_seed_entry(r) for r in finished])
    spec, done, within = _progress(going[0])
    seeds = " ".join(f"--seed {r.name[4:]}" for r in runs)
    row = _row(spec, folder, [_seed_entry(r) for r in finished],
               status=f"running: {len(finished)} of {len(runs)} seeds finished, {going[0].name} at epoch "
                      f"{done.get('epochs', 0)} of {spec.train.epochs}{within}",
               command=f"budgetnet confirm {spec.name} --out {folder}{_full_train_flag(done)} {seeds}")
    return _with_progress(row, done)


def _run_row(folder: Path) -> dict:
    if (folder / "metrics.json").is_file():
        return _row(load_spec(folder / "spec.yaml"), folder, [_seed_entry(folder)])
    spec, done, within = _progress(folder)
    row = _row(spec, folder, [], status=f"running: epoch {done.get('epochs', 0)} of {spec.train.epochs} done{within}",
               command=f"budgetnet train {spec.name} --out {folder}{_full_train_flag(done)} --resume")
    return _with_progress(row, done)


def _progress(run: Path):
    """The spec, the metrics so far and the place inside the current epoch (text) of a run that
    has not finished, from its checkpoint's resume state."""
    ckpt = read_checkpoint(run / "checkpoint.pt")
    resume, spec = ckpt.get("resume") or {}, load_spec(ckpt["spec"])
    done, place = resume.get("metrics", {}), resume.get("progress")
    if not place:
        return spec, done, ""
    steps = done.get("train_images", 0) // spec.train.batch_size
    return spec, done, f", epoch {place['epoch']} at step {place['step']} of {steps}"


def _full_train_flag(done: dict) -> str:
    """The flags that continue a run as it was started: its data (when not the embedded MNIST) and
    --full-train when it trains on every image of the training file. A run from before runs
    recorded their data trained on MNIST, whose training file has 60,000 images."""
    data = done.get("data") or {"ref": "mnist", "train_images": 60_000}
    flags = f" --data {shlex.quote(data['ref'])}" if data["ref"] != "mnist" else ""
    return flags + (" --full-train" if done.get("train_images") == data["train_images"] else "")


def _with_progress(row: dict, done: dict) -> dict:
    for key in ("device", "threads", "train_images", "backend"):
        row[key] = row[key] or done.get(key)
    return row


def markdown(rows: list[dict]) -> str:
    def pct(v):
        return f"{100 * v:.2f}" if v is not None else "-"

    other_data = any(r.get("data") not in (None, EMBEDDED_NAME) for r in rows)  # a data column when it says something
    lines = ["| model | source |" + (" data |" if other_data else "") + " params | MACs | backend | val % (median) | "
             "test accuracy % (median) | per seed | macro F1 | train s | img/s | device x threads | status |",
             "|---|---|" + ("---|" if other_data else "") + "---:|---:|---|---:|---:|---|---:|---:|---:|---|---|"]
    for r in rows:
        per_seed = ", ".join(pct(e["test_acc"]) for e in r["seeds"]) or "-"
        test, val = pct(r["test_acc"]), pct(r.get("val_acc"))
        if r.get("kind") == "text":  # bits per character where images have accuracy
            val = f"{r['val_bpc']:.3f} bits/char" if r.get("val_bpc") is not None else "-"
            per_seed = ", ".join(f"{e['test_bpc']:.3f}" for e in r["seeds"]) or "-"
            test = f"{r['test_bpc']:.3f} bits/char" if r.get("test_bpc") is not None else "-"
        f1 = f"{r['f1_macro']:.4f}" if r["f1_macro"] is not None else "-"
        secs = f"{r['train_seconds']:,.0f}" if r["train_seconds"] is not None else "-"
        ips = f"{r['images_per_s']:,.0f}" if r["images_per_s"] is not None else "-"
        status = r["status"] if not r.get("command") else f"{r['status']} (`{r['command']}`)"
        where = f"{r['device']} x {r['threads']}" if r["device"] else "-"
        data = f" {r.get('data') or '-'} |" if other_data else ""
        lines.append(f"| {r['name']} | {r['source']} |{data} {r['params']:,} | {r['macs']:,} | {r['backend']} | "
                     f"{val} | {test} | {per_seed} | {f1} | {secs} | {ips} | {where} | "
                     f"{status} |")
    return "\n".join(lines)


def not_started(name: str, out: Path) -> dict:
    """A row for a model that should be compared but has no run yet, with the command that starts it."""
    spec = load_spec(name)
    return _row(spec, out / spec.name, [], status="not started",
                command=f"budgetnet train {name} --out {out / spec.name} --full-train")


def write_comparison(inputs: list[str | Path], out: str | Path, title: str = "Model comparison",
                     expect: tuple[str, ...] = ()) -> list[dict]:
    """Compare `inputs` into OUT; every name in `expect` without a row is listed as not started."""
    out = Path(out)
    rows = collect_rows(inputs)
    have = {r["name"] for r in rows}
    rows += [not_started(name, out) for name in expect if load_spec(name).name not in have]
    if not rows:
        raise CompareError("nothing to compare: no runs found in " + ", ".join(map(str, inputs)))
    atomic.write_json(out / "comparison.json", {"generated_by": "budgetnet compare", "rows": rows})
    atomic.write_text(out / "comparison.md", f"# {title}\n\n{markdown(rows)}\n")
    plots.comparison(rows, out / "comparison.png", title)
    return rows
