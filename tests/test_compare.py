"""`budgetnet compare` on small runs: rows, medians, F1, a run still going, bad input."""
import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from budgetnet.cli import app
from budgetnet.report.compare import FIELDS, collect_rows, markdown
from budgetnet.report.results import confirm
from budgetnet.training.runs import train_run
from budgetnet.spec.schema import load_spec

runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    one_epoch = {**load_spec("cnn_002").to_dict(), "train": {"epochs": 1, "batch_size": 32}}
    confirm(one_epoch, root / "cnn_002", seeds=(0, 1, 2), subset=512)
    train_run("mnistnet1", root / "mnistnet1", epochs=1, subset=256)

    epochs_done, batches = [], []

    def stop_inside_the_second_epoch(n):  # at its second step: the checkpoint holds its first
        batches.append(n)
        if epochs_done and len(batches) == 2:
            raise KeyboardInterrupt

    def first_epoch_done(stat, result):
        epochs_done.append(stat.epoch)
        batches.clear()

    with pytest.raises(KeyboardInterrupt):
        train_run("cnn_002", root / "going", epochs=2, subset=256, on_epoch=first_epoch_done,
                  on_batch=stop_inside_the_second_epoch, checkpoint_minutes=0)
    return root


@pytest.mark.integration
def test_compare_lists_every_run_with_its_figures(runs, tmp_path):
    result = runner.invoke(app, ["compare", str(runs / "cnn_002"), str(runs / "mnistnet1"), str(runs / "going"),
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "comparison.json").read_text())["rows"]
    assert [r["name"] for r in rows] == ["cnn_002", "mnistnet1", "cnn_002"]
    confirmed, single, going = rows
    assert all(set(r) == set(FIELDS) for r in rows)
    assert confirmed["val_acc"] == sorted(e["val_acc"] for e in confirmed["seeds"])[1]
    per_seed = sorted(e["test_acc"] for e in confirmed["seeds"])
    assert [e["seed"] for e in confirmed["seeds"]] == [0, 1, 2] and confirmed["test_acc"] == per_seed[1]
    assert confirmed["f1_macro"] == sorted(e["f1_macro"] for e in confirmed["seeds"])[1]
    assert confirmed["params"] == 3898 and confirmed["source"].startswith("seed 002") and confirmed["backend"] == "custom"
    assert single["threads"] >= 1 and single["device"] == "cpu" and 0 < single["f1_macro"] <= 1
    assert single["train_seconds"] > 0 and single["images_per_s"] > 0 and single["macs"] == 1_999_492
    assert going["status"].startswith("running: epoch 1 of") and "--resume" in going["command"]
    assert "epoch 2 at step 1 of " in going["status"]
    assert going["test_acc"] is None and going["seeds"] == []
    md = (tmp_path / "comparison.md").read_text()
    assert md.count("| cnn_002 |") == 2 and "running" in md and (tmp_path / "comparison.png").stat().st_size > 0


@pytest.mark.integration
def test_compare_a_folder_of_runs_and_an_earlier_comparison(runs, tmp_path):
    assert runner.invoke(app, ["compare", str(runs), "--out", str(tmp_path / "a")]).exit_code == 0
    rows = json.loads((tmp_path / "a" / "comparison.json").read_text())["rows"]
    assert sorted(r["name"] for r in rows) == ["cnn_002", "cnn_002", "mnistnet1"]
    merged = runner.invoke(app, ["compare", str(tmp_path / "a" / "comparison.json"), str(runs / "mnistnet1"),
                                 "--out", str(tmp_path / "b"), "--json"])
    assert merged.exit_code == 0 and len(json.loads(merged.output)) == 4


@pytest.mark.integration
def test_expected_models_without_runs_are_listed_as_not_started(runs, tmp_path):
    result = runner.invoke(app, ["compare", str(runs / "mnistnet1"), "--out", str(tmp_path), "--expect", "mnistnet1",
                                 "--expect", "vit_003", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["status"]) for r in rows] == [("mnistnet1", "finished"), ("vit_003", "not started")]
    assert rows[1]["command"].startswith("budgetnet train vit_003 --out") and rows[1]["params"] == 1_199_882


@pytest.mark.integration
def test_a_comparison_of_unfinished_runs_only_draws_without_warnings(runs, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a log scale over zero-width (unfinished) bars
        result = runner.invoke(app, ["compare", str(runs / "going"), "--out", str(tmp_path), "--expect", "vit_003"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "comparison.png").stat().st_size > 0


def test_compare_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "comparison.json"
    bad.write_text("{not json")
    for target in (bad, tmp_path / "missing"):
        result = runner.invoke(app, ["compare", str(target), "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert str(target) in result.output
    assert not (tmp_path / "out").exists()  # nothing half-written


COMMITTED = sorted((Path(__file__).resolve().parent.parent / "reports").rglob("comparison.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=[str(p.parent.name) for p in COMMITTED])
def test_committed_comparisons_are_what_compare_generates(path):
    """Every finished row of a committed comparison.json is what `budgetnet compare` reads from its
    run folder now: a rerun or a copied-in run without regenerating the table fails here."""
    repo = Path(__file__).resolve().parent.parent
    rows = json.loads(path.read_text())["rows"]
    for row in rows:
        if row["status"] == "finished" and (repo / row["path"]).is_dir():
            (fresh,) = collect_rows([repo / row["path"]])
            assert {k: v for k, v in fresh.items() if k != "path"} == {k: v for k, v in row.items() if k != "path"}
    md = (path.parent / "comparison.md").read_text()
    assert markdown(rows) in md and (path.parent / "comparison.png").is_file()
