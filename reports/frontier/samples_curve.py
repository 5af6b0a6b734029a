"""Samples to target, the curve: best_lean7k's own recipe compressed to E epochs (OneCycle over
the shorter run), all 60,000 images, seeds 0-2, final-epoch test accuracy. Appends to runs.jsonl."""
import json, statistics, sys
from pathlib import Path
from budgetnet.data.datasets import load_dataset
from budgetnet.spec.schema import load_spec
from budgetnet.training.loop import train

LOG = Path(__file__).parent / "samples" / "runs.jsonl"
data = load_dataset(full_train=True)
for epochs in map(int, sys.argv[1:]):
    s = load_spec("best_lean7k").to_dict()
    s["name"] = f"lean7k_{epochs}ep_shipped_recipe"
    s["train"]["epochs"] = epochs
    accs = []
    for seed in (0, 1, 2):
        done = [json.loads(l) for l in LOG.read_text().splitlines()] if LOG.is_file() else []
        hit = [r for r in done if (r["name"], r["seed"], r["full_train"]) == (s["name"], seed, True)]
        if hit:
            accs.append(hit[0]["test_acc"]); continue
        m = train(s, data, seed=seed).metrics
        r = {"name": s["name"], "seed": seed, "full_train": True, "val_acc": None, "test_acc": m.test_acc,
             "seconds": round(m.seconds, 1), "samples": m.train_images * m.epochs, "threads": m.threads, "spec": s}
        with LOG.open("a") as f:
            f.write(json.dumps(r) + "\n")
        accs.append(m.test_acc)
        print(f"{s['name']} seed {seed}: test {m.test_acc:.4f} {m.seconds:.0f}s", flush=True)
    print(f"{epochs} epochs ({60000 * epochs:,} samples): {accs}, median {statistics.median(accs):.4f}", flush=True)
