"""Samples to target (issue #14 item 5): best_lean7k's architecture on short schedules.
Stage 1: recipe variants, 1 seed, 55,000/5,000 split, selected on validation.
Stage 2: the top 3 by validation, seeds 1 and 2 added; the best median validation wins.
Stage 3: the winner on all 60,000 images, seeds 0-2, final-epoch test accuracy (the report).
Resumable: every finished run is a line in runs.jsonl, skipped on rerun."""
import copy, json, statistics, sys
from pathlib import Path


from budgetnet.data.datasets import load_dataset
from budgetnet.spec.schema import load_spec
from budgetnet.training.loop import train

OUT = Path(__file__).parent / "samples"  # runs.jsonl: one line per finished run
OUT.mkdir(exist_ok=True)
LOG = OUT / "runs.jsonl"
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
base = load_spec("best_lean7k").to_dict()


def variant(name, batch, lr, aug, pct=0.25, drop=None, ls=0.0):
    s = copy.deepcopy(base)
    s["name"] = f"lean7k_{EPOCHS}ep_{name}"
    s["train"].update(epochs=EPOCHS, batch_size=batch, label_smoothing=ls)
    s["train"]["optimizer"]["lr"] = lr
    s["train"]["scheduler"] = {"name": "onecycle", "pct_start": pct}
    s["train"]["augment"] = aug
    if drop is not None:
        s["layers"] = [r for r in s["layers"] if not (isinstance(r, dict) and "dropout" in r)] if drop == 0 else s["layers"]
    return s


AUG = base["train"]["augment"]
NONE = {}
VARIANTS = [
    variant("b64_lr0.16_aug", 64, 0.164, AUG),          # the shipped recipe, compressed
    variant("b64_lr0.16_noaug", 64, 0.164, NONE),
    variant("b32_lr0.1_noaug", 32, 0.1, NONE),
    variant("b32_lr0.2_noaug", 32, 0.2, NONE),
    variant("b64_lr0.3_noaug", 64, 0.3, NONE),
    variant("b128_lr0.4_noaug", 128, 0.4, NONE),
    variant("b32_lr0.1_nodrop_noaug", 32, 0.1, NONE, drop=0),
    variant("b64_lr0.16_nodrop_noaug", 64, 0.164, NONE, drop=0),
    variant("b32_lr0.1_aug", 32, 0.1, AUG),
    variant("b64_lr0.16_pct0.15_noaug", 64, 0.164, NONE, pct=0.15),
]


def done():
    return [json.loads(line) for line in LOG.read_text().splitlines()] if LOG.is_file() else []


def run(spec, seed, full):
    key = (spec["name"], seed, full)
    for r in done():
        if (r["name"], r["seed"], r["full_train"]) == key:
            return r
    data = load_dataset(full_train=full)
    m = train(spec, data, seed=seed).metrics
    r = {"name": spec["name"], "seed": seed, "full_train": full, "val_acc": m.val_acc, "test_acc": m.test_acc,
         "seconds": round(m.seconds, 1), "samples": m.train_images * m.epochs, "threads": m.threads,
         "spec": spec}
    with LOG.open("a") as f:
        f.write(json.dumps(r) + "\n")
    print(f"{spec['name']} seed {seed} full {full}: val {m.val_acc} test {m.test_acc:.4f} {m.seconds:.0f}s", flush=True)
    return r


stage1 = sorted(((run(v, 0, False)["val_acc"], i) for i, v in enumerate(VARIANTS)), reverse=True)
top = [VARIANTS[i] for _, i in stage1[:3]]
medians = []
for v in top:
    vals = [run(v, s, False)["val_acc"] for s in (0, 1, 2)]
    medians.append((statistics.median(vals), v["name"]))
best = next(v for v in top if v["name"] == max(medians)[1])
tests = [run(best, s, True)["test_acc"] for s in (0, 1, 2)]
(OUT / f"winner_{EPOCHS}ep.yaml").write_text(json.dumps(best, indent=1))
print(f"winner {best['name']}: val medians {medians}; test on 60,000: {tests}, median {statistics.median(tests):.4f}")
