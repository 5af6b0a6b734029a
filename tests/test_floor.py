"""The default search's validation floor, fitted to the committed confirmations (budgetnet.search.floor)."""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from budgetnet.cli import app
from budgetnet.errors import UsageError
from budgetnet.search import floor
from budgetnet.search.definition import load_search
from budgetnet.search.record import is_feasible

ROOT = Path(__file__).resolve().parents[1]


def _pair(val, test, epochs=15):
    return {"search": f"s{val}", "trial": 0, "params": 5000, "epochs": epochs, "val_acc": val,
            "median_test_acc": test, "seeds": 3}


def test_the_committed_fit_is_regenerated_and_is_the_default_searchs_floor(tmp_path):
    committed = json.loads((ROOT / floor.REPORT / "floor.json").read_text())
    assert committed == json.loads(json.dumps(floor.fit(floor.pairs(ROOT))))  # `budgetnet floor` regenerates it
    assert load_search("general").min_accuracy == committed["floor"]
    assert len(committed["pairs"]) >= 10
    # every pair is a search's selected trial and its own confirmation: same params, MNIST, 60,000 images
    assert all(p["seeds"] >= 3 and 0.98 < p["val_acc"] < 1 for p in committed["pairs"])
    assert not any("fashion" in p["search"] for p in committed["pairs"])


def test_the_floor_is_where_the_predicted_median_crosses_the_target():
    # test = 0.5 val + 0.4975 crosses 99.40% at val 99.30% exactly
    pairs = [_pair(v, 0.5 * v + 0.4975 + d) for v, d in
             ((0.990, 0.0002), (0.992, -0.0002), (0.993, 0.0001), (0.994, -0.0001), (0.995, 0.0), (0.996, 0.0))]
    r = floor.fit(pairs)
    assert r["slope"] == pytest.approx(0.5, abs=0.05)
    assert r["floor"] in (0.993, 0.9932)  # the crossing, or the grid step after it (rounding)
    assert r["p_reach_at_floor"] >= 0.5 and r["p_reach"][f"{r['floor'] - 0.0002:.4f}"] < 0.5
    assert r["p_reach"]["0.9920"] < 0.05 < 0.95 < r["p_reach"]["0.9950"]  # monotone, sharp with a small sd


def test_a_fit_needs_pairs():
    with pytest.raises(UsageError, match="at least 4"):
        floor.fit([_pair(0.99, 0.99)] * 3)


def test_the_command_writes_the_fit_and_its_figure(tmp_path):
    r = CliRunner().invoke(app, ["floor", "--root", str(ROOT), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "floor 99." in r.output and (tmp_path / "floor.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "floor.json").read_text())["floor"] == load_search("general").min_accuracy
    r = CliRunner().invoke(app, ["floor", "--root", str(tmp_path)])  # not a checkout
    assert r.exit_code == 2 and "run it from the repository root" in r.output


def test_a_float32_reading_at_the_floor_is_feasible():
    import numpy as np
    for count in range(4960, 4980):
        reading = float(np.float32(count / 5000))
        assert is_feasible(reading, 100, round(count / 5000, 4), 200)
        assert not is_feasible(reading, 100, round((count + 1) / 5000, 4), 200)
