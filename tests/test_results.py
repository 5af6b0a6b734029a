"""Confirmation runs and the results index; the shipped models, re-evaluated."""
import json
from pathlib import Path

import pytest
import torch

from budgetnet.compliance.rules import check
from budgetnet.errors import BudgetnetError
from budgetnet.report.results import CI_SETTING, collect, confirm, headline, table, write_results
from budgetnet.spec.schema import load_spec
from budgetnet.training.runs import evaluate_checkpoint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "reports" / "results.json"
SHIPPED = json.loads(RESULTS.read_text())["models"] if RESULTS.is_file() else []


def _short_mnistnet3():
    raw = load_spec("mnistnet3").to_dict()
    raw["train"]["epochs"] = 2
    return raw


@pytest.mark.integration
def test_confirm_and_collect(tmp_path):
    reports = tmp_path / "reports"
    first = confirm(_short_mnistnet3(), reports / "m3", seeds=(1,), subset=256)
    assert [s.seed for s in first.seeds] == [1]
    r = confirm(_short_mnistnet3(), reports / "m3", seeds=(0,), subset=256)  # as a separate command would
    assert [s.seed for s in r.seeds] == [0, 1] and r.params == 6560
    assert r.seeds[1] == first.seeds[0]
    again = confirm(_short_mnistnet3(), reports / "m3", seeds=(0, 1), subset=256)  # finished seeds are kept
    assert again.seeds == r.seeds
    assert json.loads((reports / "m3" / "confirm.json").read_text()) == again.to_dict()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- results:start -->\nstale\n<!-- results:end -->\nafter\n")
    (reports / "README.md").write_text("# notebook\n<!-- results:start -->\n<!-- results:end -->\n")
    index = write_results(reports, readme)
    (model,) = index["models"]
    assert model["test_acc"] == {"0": r.seeds[0].test_acc, "1": r.seeds[1].test_acc}
    assert (tmp_path / model["checkpoint"]).is_file() and (tmp_path / model["spec"]).is_file()
    text = readme.read_text()
    assert "stale" not in text and table(index, headline(index)) in text and text.endswith("after\n")
    assert table(index).replace("](reports/", "](") in (reports / "README.md").read_text()
    assert (reports / "pareto.png").is_file() and (reports / "deployment.png").is_file() and collect(reports) == json.loads((reports / "results.json").read_text())


@pytest.mark.parametrize("model", SHIPPED, ids=[m["name"] for m in SHIPPED])
def test_shipped_checkpoint_reproduces_its_accuracy(model):
    report = evaluate_checkpoint(ROOT / model["checkpoint"], expected=ROOT / model["spec"])
    recorded = model["test_acc"][str(model["checkpoint_seed"])]
    assert abs(report.test_acc - recorded) <= 2e-4  # 2 of 10,000 images: float rounding across CPUs
    assert report.params == model["params"]


@pytest.mark.parametrize("model", SHIPPED, ids=[m["name"] for m in SHIPPED])
def test_shipped_model_keeps_its_budget(model):
    assert check(ROOT / model["spec"]).ok  # the spec's own budget: max_params, max_epochs
    if "max_params" in model["budget"]:
        assert model["params"] <= model["budget"]["max_params"]


INDEX = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"models": [], "reached": {}}
# CI retrains the flagship from scratch, where the claim rule holds for it (README, Results): one
# retrain, most of CI's time (two, with reached.smallest, took CI from 2,141 s to 3,270 s). The other
# models that reach the target rest on their committed spreads (checked below) and checkpoints
# (re-evaluated above). Labels name models: names repeat (every search's winner is best_<search>).
RETRAINED = [m for m in SHIPPED if m["label"] == INDEX.get("flagship") and m["claim"] == "reaches"]


def test_reached_models_are_named_per_budget():
    index = INDEX
    assert bool(RETRAINED) == bool(index["reached"].get("smallest"))  # a model reaches: so does the flagship
    by_label = {m["label"]: m for m in index["models"]}
    assert len(by_label) == len(index["models"])  # one model per label
    for key, label in index["reached"].items():
        if label is not None:
            m = by_label[label]
            assert m["claim"] == "reaches" and m["median_test_acc"] >= 0.994 and len(m["test_acc"]) >= 3
            assert m["kernels"]["min_test_acc"] >= 0.994 and CI_SETTING in m["kernels"]["test_acc"]
            assert key == "smallest" or m["params"] < int(key.removeprefix("under_"))


@pytest.mark.slow
@pytest.mark.parametrize("model", RETRAINED, ids=[f"{m['name']}-{m['params']}" for m in RETRAINED])
def test_model_retrains_from_scratch_to_the_target(model, retrains):
    """The flagship under-7K model, trained from scratch with its own recipe and the seed of its
    median confirmation run, under the portable kernel setting
    (ATen unvectorised, oneDNN at most SSE4.1, MKL in its compatible mode, one thread: the code paths
    chosen to be the same on every x86-64 machine): >= 99.40% test accuracy at the final epoch,
    within budget."""
    assert model["params"] < 7000 and model["epochs"] <= 15
    run = retrains[model["spec"]].wait()  # started with the session (conftest.py)
    metrics = json.loads((run / "metrics.json").read_text())
    measured = model["kernels"]["test_acc"]
    assert metrics["epochs"] == model["epochs"] and metrics["test_acc"] >= 0.994, (metrics["test_acc"], measured)


@pytest.mark.parametrize("model", RETRAINED, ids=[f"{m['name']}-{m['params']}" for m in RETRAINED])
def test_the_retrains_waypoints_are_its_committed_runs(model):
    """CI's retrain relays over the waypoints committed beside its setting's run (conftest.py): each
    is a checkpoint of that run (its spec, seed, images, and the run's losses up to its epoch), or
    the relay would only ever find them differ and fall back to the whole retrain on one core."""
    from budgetnet.training.checkpoint import load_checkpoint
    from budgetnet.training.relay import waypoints_in
    run = ROOT / model["kernels"]["report"] / CI_SETTING
    committed = json.loads((run / "metrics.json").read_text())
    waypoints = waypoints_in(run / "waypoints")
    assert waypoints and max(waypoints) < model["epochs"]
    spec = load_spec(ROOT / model["spec"])
    for epoch, path in waypoints.items():
        _, ckpt = load_checkpoint(path, expected=spec)  # refuses another architecture
        m = ckpt["resume"]["metrics"]
        # a checkpoint that names no engine was trained on the reference engine, the one its spec pins
        assert m["epochs"] == epoch and {"engine": "reference", **ckpt["spec"]["train"]} == spec.to_dict()["train"]
        assert (m["seed"], m["train_images"], m["threads"]) == (committed["seed"], committed["train_images"], 1)
        assert [h["train_loss"] for h in m["history"]] == [h["train_loss"] for h in committed["history"][:epoch]]


@pytest.mark.integration
def test_full_train_confirmation_is_recorded_and_not_mixed(tmp_path):
    out = tmp_path / "reports" / "m3"
    r = confirm(_short_mnistnet3(), out, seeds=(0,), subset=256, full_train=True)
    assert r.full_train and r.seeds[0].val_acc is None and r.seeds[0].test_acc > 0
    with pytest.raises(BudgetnetError, match="full_train"):
        confirm(_short_mnistnet3(), out, seeds=(0,), subset=256)  # same runs, other protocol
    (model,) = collect(tmp_path / "reports")["models"]
    assert model["full_train"] and "| 256 |" in table({"models": [model]})


def test_the_committed_index_is_what_budgetnet_results_generates():
    """reports/results.json and the README table are generated from the committed confirm.json
    files; a confirmation committed without rerunning `budgetnet results` fails here."""
    committed = json.loads(RESULTS.read_text())
    assert collect(ROOT / "reports", committed["flagship"]) == committed
    assert table(committed, headline(committed)) in (ROOT / "README.md").read_text()
    assert table(committed).replace("](reports/", "](") in (ROOT / "reports" / "README.md").read_text()


@pytest.mark.integration
def test_confirm_jobs_runs_seeds_in_parallel_processes_with_the_same_figures(tmp_path):
    """--jobs 2 trains each seed in its own one-thread process; the record is the one an in-process
    confirmation of the same seeds writes (same seeds, same losses under one thread)."""
    jobs = confirm(_short_mnistnet3(), tmp_path / "jobs", seeds=(0, 1), subset=256, jobs=2)
    assert [s.seed for s in jobs.seeds] == [0, 1]
    for seed in (0, 1):
        assert (tmp_path / "jobs" / f"seed{seed}" / "log.txt").is_file()
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = confirm(_short_mnistnet3(), tmp_path / "alone", seeds=(0, 1), subset=256)
    finally:
        torch.set_num_threads(torch_threads)
    assert [s.test_acc for s in jobs.seeds] == [s.test_acc for s in alone.seeds]


def _fake_confirmation(folder: Path, spec: str, accs: dict[int, float], int8: dict[int, float]) -> None:
    from budgetnet.data.datasets import describe
    folder.mkdir(parents=True)
    (folder / "spec.yaml").write_text(load_spec(spec).to_yaml())
    seeds = [{"seed": s, "val_acc": a, "test_acc": a, "seconds": 1.0, "epochs": 15, "train_images": 60000,
              "checkpoint": f"seed{s}/checkpoint.pt"} for s, a in accs.items()]
    (folder / "confirm.json").write_text(json.dumps({
        "name": load_spec(spec).name, "params": 1, "macs": 1, "epochs": 15, "budget": {}, "full_train": True,
        "train_images": 60000, "seeds": seeds, "median_test_acc": sorted(accs.values())[len(accs) // 2],
        "data": describe().to_dict()}))
    for s, a in int8.items():
        (folder / f"seed{s}" / "export").mkdir(parents=True)
        (folder / f"seed{s}" / "export" / "export.json").write_text(json.dumps({"int8": {"test_acc": a}}))


def test_the_deployment_summary_takes_int8_medians_within_the_unas_bounds_only(tmp_path):
    """int8 columns come from every seed's export record; a model outside the bounds (best_lean7k:
    7,689 B, 14,524 B peak) never counts, and a model with a seed not exported has no int8 median."""
    reports = tmp_path / "reports"
    from budgetnet.search.definition import load_search
    unas = load_search("unas")
    small = unas.spec(unas.reference[0])
    spec_file = tmp_path / "small.yaml"
    spec_file.write_text(small.to_yaml())
    _fake_confirmation(reports / "small", str(spec_file), {0: 0.995, 1: 0.994, 2: 0.996}, {0: 0.994, 1: 0.993, 2: 0.995})
    _fake_confirmation(reports / "half", str(spec_file), {0: 0.995, 1: 0.995, 2: 0.995}, {0: 0.999})
    _fake_confirmation(reports / "big", "best_lean7k", {0: 0.999, 1: 0.999, 2: 0.999}, {0: 0.999, 1: 0.999, 2: 0.999})
    index = collect(reports)
    by_report = {Path(m["report"]).name: m for m in index["models"]}
    assert by_report["small"]["median_int8_test_acc"] == 0.994 and by_report["half"]["median_int8_test_acc"] is None
    assert by_report["small"]["peak_activation_bytes"] <= 2500 and by_report["big"]["int8_weight_bytes"] > 4500
    d = index["deployment"]
    assert d["best_report"].endswith("small") and d["best_median_int8_test_acc"] == 0.994 and d["reached"]
    # the goal is the MNIST target in int8: 0.1 point under it does not reach
    _fake_confirmation(tmp_path / "below" / "small", str(spec_file), {0: 0.995, 1: 0.994, 2: 0.996},
                       {0: 0.993, 1: 0.992, 2: 0.995})
    assert collect(tmp_path / "below")["deployment"]["reached"] is False


def test_pick_selects_on_median_validation_and_never_on_test(tmp_path):
    from budgetnet.report.results import pick

    def arm(name, vals, tests, params_spec="best_3k"):
        folder = tmp_path / name
        _fake_confirmation(folder, params_spec, dict(enumerate(tests)), {})
        c = json.loads((folder / "confirm.json").read_text())
        for r, v in zip(c["seeds"], vals):
            r["val_acc"] = v
        c["full_train"], c["name"] = False, name
        (folder / "confirm.json").write_text(json.dumps(c))
        return folder

    a = arm("a", [0.990, 0.993, 0.991], [0.999, 0.999, 0.999])  # best test, worse validation
    b = arm("b", [0.992, 0.992, 0.980], [0.980, 0.980, 0.980])  # median validation 0.992 wins
    r = pick([a, b], tmp_path / "best.yaml", "best_x")
    assert r["picked"] == "b" and load_spec(tmp_path / "best.yaml").name == "best_x"
    c = json.loads((a / "confirm.json").read_text())
    c["full_train"] = True
    (a / "confirm.json").write_text(json.dumps(c))
    with pytest.raises(BudgetnetError, match="no validation"):
        pick([a, b], tmp_path / "best2.yaml", "best_x")
    assert not (tmp_path / "best2.yaml").exists()
