"""The kernel spread of a result and the claim rule built on it."""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from budgetnet.cli import app
from budgetnet.errors import BudgetnetError
from budgetnet.report.results import claim, collect
from budgetnet.spec.schema import load_spec
from budgetnet.training.spread import SETTINGS, build_record, markdown, start_setting, write_record

runner = CliRunner()


def _run(folder, setting, acc, losses=(0.5, 0.2), name="net", params=1000, seed=1, full_train=True, epochs=15):
    d = folder / setting
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({
        "name": name, "params": params, "seed": seed, "epochs": epochs, "full_train": full_train, "test_acc": acc,
        "threads": 1,
        "seconds": 10.0, "history": [{"train_loss": x} for x in losses]}))


def test_record_lays_settings_side_by_side_and_marks_identical_arithmetic(tmp_path):
    _run(tmp_path, "default", 0.9941)
    _run(tmp_path, "aten-avx2", 0.9941)                      # same losses: the setting changed nothing
    _run(tmp_path, "onednn-avx2", 0.9937, losses=(0.5, 0.21))
    rec = write_record(tmp_path)
    assert (rec["min_test_acc"], rec["max_test_acc"]) == (0.9937, 0.9941)
    assert rec["spread"] == pytest.approx(0.0004)
    assert {r["setting"]: r["same_arithmetic"] for r in rec["runs"]} == \
        {"default": True, "aten-avx2": True, "onednn-avx2": False}
    row = markdown([rec]).splitlines()[-1]
    assert row == "| net | 1,000 | 1 | 99.41 | 99.41= | 99.37 | - | 99.37 | 99.41 | 0.04 |"
    assert json.loads((tmp_path / "spread.json").read_text()) == rec and (tmp_path / "spread.md").is_file()


def test_retrains_reported_from_other_machines_count_in_the_spread(tmp_path):
    _run(tmp_path, "default", 0.9941)
    (tmp_path / "elsewhere.json").write_text(json.dumps([
        {"machine": "2-core CI runner", "setting": "default", "threads": 1, "test_acc": 0.9935, "source": "issue 1"}]))
    rec = write_record(tmp_path)
    assert rec["min_test_acc"] == 0.9935 and rec["elsewhere"][0]["machine"] == "2-core CI runner"
    assert "99.35 (default)" in markdown([rec])
    (tmp_path / "elsewhere.json").write_text('[{"machine": "x"}]')
    with pytest.raises(BudgetnetError, match="elsewhere.json"):
        write_record(tmp_path)


def test_runs_of_another_seed_are_not_mixed_in(tmp_path):
    _run(tmp_path, "default", 0.9941)
    _run(tmp_path, "aten-avx2", 0.9941, seed=2)
    with pytest.raises(BudgetnetError, match="another spec, seed, schedule or split"):
        write_record(tmp_path)
    _run(tmp_path / "b", "default", 0.9941)
    _run(tmp_path / "b", "aten-avx2", 0.9941, epochs=5)  # the same model's 5-epoch recipe: another result
    with pytest.raises(BudgetnetError, match="another spec, seed, schedule or split"):
        write_record(tmp_path / "b")


def _confirmation(folder, accs, name="net", params=1000):
    folder.mkdir(parents=True)
    (folder / "spec.yaml").write_text(load_spec("best_3k").to_yaml())  # what a confirmation writes beside it
    seeds = [{"seed": s, "val_acc": None, "test_acc": a, "seconds": 1.0, "epochs": 15, "train_images": 60000,
              "checkpoint": f"seed{s}/checkpoint.pt"} for s, a in enumerate(accs)]
    (folder / "confirm.json").write_text(json.dumps({
        "name": name, "params": params, "macs": 1, "epochs": 15, "budget": {}, "full_train": True,
        "train_images": 60000, "seeds": seeds, "median_test_acc": sorted(accs)[1], "min_test_acc": min(accs)}))


@pytest.mark.parametrize("accs, settings, kernels, expected", [
    ((0.9945, 0.9942, 0.9950), ("portable", "onednn-avx2"), (0.9941, 0.9940), "reaches"),
    ((0.9945, 0.9942, 0.9950), ("portable", "onednn-avx2"), (0.9941, 0.9939), "flips"),  # one setting takes it below
    ((0.9945, 0.9942, 0.9950), ("default", "onednn-avx2"), (0.9941, 0.9940), "unverified"),  # not CI's setting
    ((0.9945, 0.9942, 0.9950), (), (), "unverified"),
    ((0.9945, 0.9932, 0.9938), ("portable", "onednn-avx2"), (0.9950, 0.9950), "no"),  # the median itself is short
])
def test_the_claim_rule(tmp_path, accs, settings, kernels, expected):
    _confirmation(tmp_path / "reports" / "m", accs)
    if kernels:
        median_seed = sorted(range(3), key=lambda s: accs[s])[1]
        for setting, acc in zip(settings, kernels):
            _run(tmp_path / "reports" / "spread" / "m", setting, acc, seed=median_seed, losses=(acc,))
        write_record(tmp_path / "reports" / "spread" / "m")
    (model,) = collect(tmp_path / "reports")["models"]
    assert model["claim"] == claim(model) == expected
    reached = collect(tmp_path / "reports")["reached"]["smallest"]
    assert (reached == "net") == (expected == "reaches")


def test_reached_names_one_model_where_two_share_a_name(tmp_path):
    """Every search's winner is called best_<search>: the index labels such models by size, so that
    `reached` (what CI retrains) names the smaller one, not both."""
    for params in (1000, 2000):
        _confirmation(tmp_path / "reports" / f"m{params}", (0.9945, 0.9942, 0.9950), params=params)
        for setting in ("default", "portable"):
            _run(tmp_path / "reports" / "spread" / f"m{params}", setting, 0.9945, params=params, seed=0)
        write_record(tmp_path / "reports" / "spread" / f"m{params}")
    index = collect(tmp_path / "reports")
    assert [(m["label"], m["claim"]) for m in index["models"]] == [("net (1,000)", "reaches"), ("net (2,000)", "reaches")]
    assert index["reached"]["smallest"] == index["reached"]["under_3000"] == "net (1,000)"


@pytest.mark.integration
def test_spread_command_trains_each_setting_in_its_own_process(tmp_path, write_yaml):
    spec = write_yaml("name: tiny\nlayers: [{conv: {out: 4, k: 3}}, relu, gap, {conv: {out: 10, k: 1}}, flatten]\n"
                      "train: {epochs: 1, batch_size: 64}\n")
    out = tmp_path / "spread"
    args = ["spread", spec, "--out", str(out), "--setting", "default", "--setting", "aten-default",
            "--subset", "256", "--jobs", "2", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rec = json.loads(result.output[result.output.index("{"):])
    assert [r["setting"] for r in rec["runs"]] == ["default", "aten-default"]
    assert rec["runs"][1]["env"] == {"ATEN_CPU_CAPABILITY": "default"}
    mtime = (out / "default" / "metrics.json").stat().st_mtime
    again = runner.invoke(app, args)  # finished settings are kept, not retrained
    assert again.exit_code == 0 and (out / "default" / "metrics.json").stat().st_mtime == mtime
    bad = runner.invoke(app, ["spread", spec, "--out", str(out), "--setting", "avx9"])
    assert bad.exit_code == 2 and "avx9" in bad.output


@pytest.mark.integration
def test_a_started_setting_trains_beside_its_caller_until_stopped(tmp_path, write_yaml):
    """How the slow tier's retrains run beside the rest of the suite (conftest.py)."""
    spec = write_yaml("name: tiny\nlayers: [{conv: {out: 4, k: 3}}, relu, gap, {conv: {out: 10, k: 1}}, flatten]\n"
                      "train: {epochs: 15, batch_size: 64}\n")
    run = start_setting(Path(spec), tmp_path / "cut", 0, SETTINGS["portable"], full_train=False, subset=4096)
    assert run.running  # the caller goes on while it trains
    run.stop()
    assert not run.running
    with pytest.raises(BudgetnetError, match="under 'portable' failed"):
        run.wait()
    _run(tmp_path / "done", "portable", 0.99)  # a finished run starts no process
    done = start_setting(Path(spec), tmp_path / "done", 0, SETTINGS["portable"], full_train=True)
    assert not done.running and done.wait() == tmp_path / "done" / "portable"


COMMITTED = sorted(Path(__file__).resolve().parent.parent.glob("reports/**/spread.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=[f"{p.parent.parent.name}/{p.parent.name}" for p in COMMITTED])
def test_committed_spreads_are_what_their_runs_give(path):
    """spread.json and spread.md are regenerated from the committed runs (budgetnet spread)."""
    record = build_record(path.parent)
    assert json.loads(path.read_text()) == record
    assert (path.parent / "spread.md").read_text() == markdown([record]) + "\n"
