"""A retrain relayed over a committed waypoint: the same result as the retrain from scratch,
sooner when the arithmetic matches, and still that result when it does not."""
import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from budgetnet.cli import app
from budgetnet.spec.schema import load_spec
from budgetnet.training.relay import Relay, same_state, waypoints_in
from budgetnet.training.runs import train_run
from budgetnet.training.spread import SETTINGS, start_setting

runner = CliRunner()
EPOCHS, SUBSET = 3, 256


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A from-scratch run under the default setting that kept its waypoints at epochs 1 and 2."""
    root = tmp_path_factory.mktemp("relay")
    spec = root / "spec.yaml"
    raw = load_spec("mnistnet3").to_dict()
    raw["train"]["epochs"] = EPOCHS
    spec.write_text(load_spec(raw).to_yaml())
    run = start_setting(spec, root / "ref", 0, SETTINGS["default"], True, SUBSET, keep_epochs={1, 2}).wait()
    return spec, run


def _losses(run):
    metrics = json.loads((run / "metrics.json").read_text())
    return [h["train_loss"] for h in metrics["history"]], metrics["test_acc"], metrics["epochs"]


@pytest.mark.integration
def test_a_relay_over_a_matching_waypoint_gives_the_retrain_from_scratch(reference, tmp_path):
    spec, ref = reference
    assert sorted(waypoints_in(ref)) == [1, 2]
    relay = Relay(spec, tmp_path, 0, SETTINGS["default"], True, EPOCHS, {2: ref / "epoch02.pt"}, subset=SUBSET)
    run = relay.wait()
    assert relay.split_at == 2 and "bit for bit" in relay.note
    assert run == tmp_path / "from-epoch02" / "default"  # leg 2's result ...
    assert _losses(run) == _losses(ref)  # ... is the from-scratch run's, loss for loss


@pytest.mark.integration
def test_a_waypoint_of_another_arithmetic_leaves_leg_1_to_train_on(reference, tmp_path):
    spec, ref = reference
    other = tmp_path / "waypoints"
    other.mkdir()
    shutil.copyfile(ref / "epoch01.pt", other / "epoch02.pt")  # a state leg 1 never arrives at
    relay = Relay(spec, tmp_path / "run", 0, SETTINGS["default"], True, EPOCHS, waypoints_in(other), subset=SUBSET)
    run = relay.wait()
    assert relay.split_at is None and "differs" in relay.note
    assert run == tmp_path / "run" / "default" and _losses(run) == _losses(ref)


def test_same_state_compares_everything_but_timings(tmp_path):
    train_run("mnistnet3", tmp_path / "a", epochs=1, subset=128, seed=0, full_train=True, keep_epochs={1})
    a = torch.load(tmp_path / "a" / "epoch01.pt", weights_only=True)
    a["resume"]["metrics"]["seconds"] += 5.0  # another run's timing: still the same state
    torch.save(a, tmp_path / "slower.pt")
    assert same_state(tmp_path / "a" / "epoch01.pt", tmp_path / "slower.pt")
    a["resume"]["optimizer"]["state"][0]["momentum_buffer"][0] += 1e-7  # one number off: another state
    torch.save(a, tmp_path / "other.pt")
    assert not same_state(tmp_path / "a" / "epoch01.pt", tmp_path / "other.pt")
    assert not same_state(tmp_path / "a" / "epoch01.pt", tmp_path / "a" / "checkpoint.pt")  # final: no state


def test_a_waypoint_that_names_no_engine_is_a_reference_engine_state(tmp_path):
    spec = load_spec("mnistnet3").to_dict()
    spec["train"] = {**spec.get("train", {}), "engine": "reference"}
    train_run(spec, tmp_path / "a", epochs=1, subset=128, seed=0, full_train=True, keep_epochs={1})
    a = torch.load(tmp_path / "a" / "epoch01.pt", weights_only=True)
    del a["resume"]["metrics"]["engine"]  # as the committed waypoints are
    torch.save(a, tmp_path / "unnamed.pt")
    assert same_state(tmp_path / "a" / "epoch01.pt", tmp_path / "unnamed.pt")
    a["resume"]["metrics"]["engine"] = "fast"
    torch.save(a, tmp_path / "fast.pt")
    assert not same_state(tmp_path / "a" / "epoch01.pt", tmp_path / "fast.pt")


def test_keep_epochs_takes_ranges_and_refuses_nonsense(tmp_path):
    result = runner.invoke(app, ["train", "mnistnet3", "--out", str(tmp_path / "r"), "--epochs", "2",
                                 "--subset", "64", "--full-train", "--keep-epochs", "1-1,2"])
    assert result.exit_code == 0, result.output
    assert sorted(waypoints_in(tmp_path / "r")) == [1, 2]
    for bad in ("x", "3-1", "0"):
        result = runner.invoke(app, ["train", "mnistnet3", "--out", str(tmp_path / bad), "--keep-epochs", bad])
        assert result.exit_code == 2 and "--keep-epochs" in result.output and not (tmp_path / bad).exists()
