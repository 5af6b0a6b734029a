"""Each engine against the reference engine: final-epoch validation accuracy per seed of each
model (the runs of run.sh), the mean, the seed-to-seed standard deviation, and the difference to
the reference on the same seeds in standard errors. Writes accuracy.json beside this file and
prints the Markdown table README.md carries.
Usage: python reports/engine/summarize.py RUNS_DIR/out"""
import json
import statistics
import sys
from pathlib import Path

runs = Path(sys.argv[1])
rows: dict[str, dict[str, dict[int, dict]]] = {}
for metrics in sorted(runs.glob("*/seed*/metrics.json")):
    m = json.loads(metrics.read_text())
    model, engine = metrics.parent.parent.name.split("-", 1)  # e.g. lean7k-fast-bf16
    rows.setdefault(model, {}).setdefault(engine, {})[int(metrics.parent.name[4:])] = {
        "val_acc": m["val_acc"], "images_per_s": m["images_per_s"], "ran": m["engine"]}


def stats(runs_by_seed: dict[int, dict], seeds: list[int]) -> dict:
    vals = [runs_by_seed[s]["val_acc"] for s in seeds]
    return {"seeds": seeds, "val_acc": vals, "mean": statistics.mean(vals),
            "sd": statistics.stdev(vals) if len(vals) > 1 else None,
            "images_per_s": statistics.median(runs_by_seed[s]["images_per_s"] for s in seeds),
            "ran": sorted({runs_by_seed[s]["ran"] for s in seeds})}


out, lines = {}, ["| model | engine (as run) | seeds | final-epoch validation per seed (%) | mean (%) | seed sd (points) | "
                  "minus reference, same seeds (points) | in standard errors | img/s (median, 1 thread, 2 jobs) |",
                  "|---|---|---:|---|---:|---:|---:|---:|---:|"]
for model, engines in rows.items():
    reference = engines["reference"]
    out[model] = {"reference": stats(reference, sorted(reference))}
    order = ["reference"] + sorted(e for e in engines if e != "reference")
    for engine in order:
        seeds = sorted(set(engines[engine]) & set(reference))
        st = stats(engines[engine], seeds)
        tail = " | |"
        if engine != "reference":
            base = stats(reference, seeds)
            diff = st["mean"] - base["mean"]
            se = (st["sd"] ** 2 / len(seeds) + base["sd"] ** 2 / len(seeds)) ** 0.5
            st.update(difference=diff, standard_error=se)
            tail = f" {100 * diff:+.2f} | {diff / se:+.1f} |"
            out[model][engine] = st
        else:
            st = out[model]["reference"]
        lines.append(f"| {model} | {engine} ({', '.join(st['ran'])}) | {len(st['seeds'])} | "
                     f"{', '.join(f'{100 * v:.2f}' for v in st['val_acc'])} | {100 * st['mean']:.3f} | "
                     f"{100 * st['sd']:.3f} |{tail} {st['images_per_s']:,.0f} |")
Path(__file__).with_name("accuracy.json").write_text(json.dumps(out, indent=2) + "\n")
print("\n".join(lines))
