"""Pick the lever arm with the highest median validation accuracy (3 seeds, same budget and epochs)
and write it as best_5k.yaml for the final-model confirmation on 60,000 images."""
import json
import statistics
from pathlib import Path

import yaml

HERE = Path(__file__).parent
arms = {}
for arm in ("lean5k_base", "lean5k_ema", "lean5k_distill"):
    c = json.loads((HERE / "levers" / arm / "confirm.json").read_text())
    arms[arm] = statistics.median(s["val_acc"] for s in c["seeds"])
    print(arm, [s["val_acc"] for s in c["seeds"]], "median", arms[arm])
best = max(arms, key=arms.get)
spec = yaml.safe_load((HERE / "levers" / "specs" / f"{best}.yaml").read_text())
spec["name"] = "best_5k"
spec["source"] = f"frontier levers: {best} (highest median validation of 3 seeds: {100 * arms[best]:.2f}%)"
(HERE / "best_5k.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
print("picked", best)
