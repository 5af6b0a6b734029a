"""The fast engine against the reference engine: final-epoch validation accuracy per seed of each
model (the runs of run.sh), with the mean, the seed-to-seed standard deviation and the difference
in standard errors. Writes accuracy.json; prints the Markdown table README.md carries.
Usage: python reports/engine/summarize.py RUNS_DIR (run.sh's out/)."""
import json
import statistics
import sys
from pathlib import Path

runs = Path(sys.argv[1])
rows = {}
for metrics in sorted(runs.glob("*/seed*/metrics.json")):
    m = json.loads(metrics.read_text())
    model, engine = metrics.parent.parent.name.split("-", 1)
    rows.setdefault(model, {}).setdefault(engine, {})[int(metrics.parent.name[4:])] = {
        "val_acc": m["val_acc"], "test_acc": m["test_acc"], "images_per_s": m["images_per_s"], "engine": m["engine"]}
out, lines = {}, ["| model | engine | seeds | final-epoch validation per seed (%) | mean (%) | seed sd (points) | "
                  "fast - reference (points) | in standard errors | img/s (median, 1 thread, 2 jobs) |",
                  "|---|---|---:|---|---:|---:|---:|---:|---:|"]
for model, engines in rows.items():
    seeds = sorted(set(engines.get("fast", {})) & set(engines.get("reference", {})))
    stats = {}
    for engine in ("reference", "fast"):
        vals = [engines[engine][s]["val_acc"] for s in seeds]
        stats[engine] = {"seeds": seeds, "val_acc": vals, "mean": statistics.mean(vals),
                         "sd": statistics.stdev(vals) if len(vals) > 1 else None,
                         "images_per_s": statistics.median(engines[engine][s]["images_per_s"] for s in seeds)}
    diff = stats["fast"]["mean"] - stats["reference"]["mean"]
    se = (stats["fast"]["sd"] ** 2 / len(seeds) + stats["reference"]["sd"] ** 2 / len(seeds)) ** 0.5
    out[model] = {**stats, "difference": diff, "standard_error": se}
    for engine in ("reference", "fast"):
        st = stats[engine]
        tail = (f" {100 * diff:+.2f} | {diff / se:+.1f} |" if engine == "fast" else " | |")
        lines.append(f"| {model} | {engine} | {len(seeds)} | {', '.join(f'{100 * v:.2f}' for v in st['val_acc'])} | "
                     f"{100 * st['mean']:.3f} | {100 * st['sd']:.3f} |{tail} {st['images_per_s']:,.0f} |")
Path(__file__).with_name("accuracy.json").write_text(json.dumps(out, indent=2) + "\n")
print("\n".join(lines))
