"""best_5k's recipe (the picked lever) on the same layout at 3K, 4K and 6K widths."""
import copy
from pathlib import Path

import yaml

HERE = Path(__file__).parent
best = yaml.safe_load((HERE / "best_5k.yaml").read_text())


def widths(spec, ws):
    s = copy.deepcopy(spec)
    it = iter(ws)
    for row in s["layers"]:
        if isinstance(row, dict) and "conv" in row and row["conv"]["out"] != 10:
            row["conv"]["out"] = next(it)
    return s


SIZES = (("best_3k", (5, 10, 5, 10, 10, 10), 2999), ("best_4k", (6, 12, 6, 11, 12, 11), 3999),
         ("best_6k", (7, 15, 7, 14, 15, 13), 5999))
for name, ws, budget in SIZES:
    s = widths(best, ws)
    s["name"], s["budget"] = name, {"max_params": budget, "max_epochs": 15}
    s["source"] = f"best_5k's layout and recipe at widths {'-'.join(map(str, ws))} (frontier issue)"
    (HERE / f"{name}.yaml").write_text(yaml.safe_dump(s, sort_keys=False))
