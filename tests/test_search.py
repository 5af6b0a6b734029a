"""Smoke searches: the budget is hard, resuming adds trials, outputs exist, best.yaml complies."""
import json

import optuna
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import budgetnet
from budgetnet.compliance.rules import check
from budgetnet.cli import app
from budgetnet.errors import SpecError
from budgetnet.search.definition import load_search, search_names

runner = CliRunner()
SMOKE = ["--epochs", "1", "--subset", "1000", "--seed", "3", "--workers", "1"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    first = runner.invoke(app, ["search", "under7k", "--max-params", "5000", "--trials", "3", "--out", str(out), *SMOKE])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["search", "under7k", "--max-params", "5000", "--trials", "5", "--out", str(out), *SMOKE])
    assert second.exit_code == 0, second.output
    return out


def _study(out):
    return optuna.load_study(study_name="under7k-5000", storage=f"sqlite:///{out / 'study.db'}")


@pytest.mark.integration
def test_over_budget_samples_are_never_trained(smoke):
    trials = _study(smoke).trials
    over = [t for t in trials if t.user_attrs.get("status") == "over_budget"]
    trained = [t for t in trials if t.user_attrs.get("status") in ("complete", "pruned")]
    assert over, "a 5,000 budget on the under7k space must reject some samples"
    for t in over:
        assert t.user_attrs["params"] > 5000 and t.user_attrs["seconds"] == 0.0
        assert not t.intermediate_values and "val_acc" not in t.user_attrs
    for t in trained:
        assert t.user_attrs["params"] <= 5000 and t.intermediate_values


@pytest.mark.integration
def test_resume_adds_trials(smoke):
    trained = [t for t in _study(smoke).trials if t.user_attrs.get("status") in ("complete", "pruned")]
    assert len(trained) == 5  # 3 from the first run, 2 more from the rerun


@pytest.mark.integration
def test_outputs_exist_and_best_complies(smoke):
    for name in ("leaderboard.csv", "leaderboard.md", "best.yaml", "best/checkpoint.pt", "best/metrics.json",
                 "history.png", "pareto.png", "summary.json", "command.txt", "study.db"):
        assert (smoke / name).is_file(), name
    assert check(smoke / "best.yaml", max_params=5000).ok
    result = runner.invoke(app, ["check", str(smoke / "best.yaml"), "--max-params", "5000"])
    assert result.exit_code == 0
    summary = json.loads((smoke / "summary.json").read_text())
    assert summary["over_budget"] >= 1 and summary["over_budget_train_seconds"] == 0
    assert 0 < summary["best"]["test_acc"] <= 1
    board = pd.read_csv(smoke / "leaderboard.csv")
    assert board["test_acc"].notna().sum() == 1  # test accuracy only for the confirmed winner
    done = board[board["val_acc"].notna()]
    assert ((done["val_lo"] <= done["val_acc"]) & (done["val_acc"] <= done["val_hi"])).all()


@pytest.mark.integration
def test_reference_config_runs_first(tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(app, ["search", "under7k", "--trials", "1", "--out", str(out), "--no-retrain", *SMOKE])
    assert result.exit_code == 0, result.output
    first = optuna.load_study(study_name="under7k-6999", storage=f"sqlite:///{out / 'study.db'}").trials[0]
    assert first.user_attrs["params"] == budgetnet.count_params("mnistnet3") == 6560


@pytest.mark.parametrize("name", search_names())
def test_shipped_searches_are_valid_and_references_fit(name):
    s = load_search(name)
    for ref in s.reference:
        assert budgetnet.count_params(s.spec(ref)) <= s.budget.max_params


def test_bad_search_file_is_located(write_yaml):
    path = write_yaml("name: x\nbudget: {max_params: 100}\nspace: {w: {int: [1, 2]}}\n"
                      "template: {name: t, layers: [{conv: {out: $w}}, {conv: {out: $v}}, gap, flatten]}\n")
    with pytest.raises(SpecError, match="holes without a range: v"):
        load_search(path)
    result = runner.invoke(app, ["search", path, "--trials", "1"])
    assert result.exit_code == 2 and "holes without a range" in result.stderr


@pytest.mark.integration
def test_transformer_template_on_the_custom_backend(tmp_path):
    result = runner.invoke(app, ["search", "vit_under8k", "--trials", "2", "--out", str(tmp_path / "v"),
                                 "--backend", "custom", "--no-retrain", *SMOKE])
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="vit_under8k-7999", storage=f"sqlite:///{tmp_path / 'v' / 'study.db'}")
    assert study.trials[0].user_attrs["params"] == 7850  # seed 003's ViT scaled into the budget runs first
    assert sum(t.user_attrs.get("status") == "complete" for t in study.trials) == 2


@pytest.mark.integration
def test_a_second_command_does_not_finalize_while_another_still_runs(tmp_path):
    out = tmp_path / "s"
    args = ["search", "under4k", "--trials", "1", "--out", str(out), "--no-retrain", *SMOKE]
    assert runner.invoke(app, args).exit_code == 0
    (out / "leaderboard.csv").unlink()
    study = optuna.load_study(study_name="under4k-3999", storage=f"sqlite:///{out / 'study.db'}")
    study.ask()  # a trial another command is still training
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "still run in another command" in result.output
    assert not (out / "leaderboard.csv").exists()


def test_quartile_pruner_stops_only_the_bottom_quarter():
    from budgetnet.search.study import make_pruner

    study = optuna.create_study(direction="maximize", pruner=make_pruner("quartile", epochs=3))
    for final in [0.90, 0.95, 0.99, 0.97]:  # finished trials; bottom quartile ends at 0.9375
        trial = study.ask()
        for step in (1, 2, 3):
            trial.report(final, step)
        study.tell(trial, final)
    verdicts = []
    for value in (0.91, 0.94):
        trial = study.ask()
        trial.report(value, 1)
        early = trial.should_prune()  # within the warm-up: never
        trial.report(value, 2)
        trial.report(value, 3)
        verdicts.append((early, trial.should_prune()))
    assert verdicts == [(False, True), (False, False)]


@pytest.mark.integration
def test_enqueued_points_run_first_and_only_once(tmp_path):
    out, points = tmp_path / "s", tmp_path / "points.yaml"
    ref = load_search("under7k").reference[0]
    points.write_text(yaml.safe_dump([dict(ref, rotate=3.0)]))
    args = ["search", "under7k", "--no-warm-start", "--enqueue", str(points), "--out", str(out), "--no-retrain", *SMOKE]
    assert runner.invoke(app, [*args, "--trials", "1"]).exit_code == 0
    assert runner.invoke(app, [*args, "--trials", "2"]).exit_code == 0  # the rerun queues it again: skipped
    trials = optuna.load_study(study_name="under7k-6999", storage=f"sqlite:///{out / 'study.db'}").trials
    assert trials[0].params == dict(ref, rotate=3.0)
    assert sum(t.params == trials[0].params for t in trials) == 1
    bad = runner.invoke(app, ["search", "under7k", "--enqueue", str(tmp_path / "missing.yaml"), "--out", str(out)])
    assert bad.exit_code == 2 and "missing.yaml: file not found" in bad.stderr


def _epoch_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if " rung 0 epoch " in line]


@pytest.mark.integration
def test_a_training_trial_shows_each_epoch_with_its_validation_accuracy(tmp_path):
    r = runner.invoke(app, ["search", "--max-params", "7000", "--trials", "1", "--rungs", "3", "--subset", "256",
                            "--workers", "1", "--threads", "1", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    lines = _epoch_lines(r.output)  # every epoch but the last, whose line is the trial's own
    assert [line.split("trial ")[1].split(" val")[0] for line in lines] == ["0 rung 0 epoch 1/3", "0 rung 0 epoch 2/3"]
    assert all(line.endswith("%") for line in lines)


@pytest.mark.integration
def test_the_command_shows_the_epochs_its_workers_record(tmp_path):
    """Workers in their own processes record each epoch in the study; the command polls it every
    2 s, so a trial of a few seconds shows at least one of its epochs."""
    r = runner.invoke(app, ["search", "--max-params", "7000", "--trials", "2", "--rungs", "3", "--subset", "4096",
                            "--workers", "2", "--threads", "1", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    lines = _epoch_lines(r.output)
    assert lines and all(" val " in line and line.endswith("%") for line in lines), r.output
