"""The default search: the general family filled to the budget, successive halving over whole
schedules, warm start, --confirm, a clean Ctrl-C and a resume that reruns the interrupted trial."""
import json
import os
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import budgetnet
from budgetnet.cli import app
from budgetnet.search.definition import SEARCH_DIR

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--max-params", "3000", "--epochs", "3", "--subset", "600", "--workers", "1", "--threads", "1", "--seed", "5"]


def _study(out, name="general-3000"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


@pytest.fixture(scope="module")
def general(tmp_path_factory):
    out = tmp_path_factory.mktemp("general")
    result = runner.invoke(app, ["search", "--trials", "7", "--no-warm-start", "--confirm", "2", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.mark.integration
def test_trained_trials_fill_the_budget_and_never_exceed_it(general):
    out, _ = general
    trained = [t for t in _study(out).trials if t.user_attrs.get("status") == "complete"]
    assert len(trained) == 7
    for t in trained:
        assert 0.85 * 3000 <= t.user_attrs["params"] <= 3000
        assert t.user_attrs["fill"] == pytest.approx(t.user_attrs["params"] / 3000, abs=1e-4)
        assert budgetnet.count_params(budgetnet.load_spec(out / "best.yaml")) <= 3000
    board = pd.read_csv(out / "leaderboard.csv")
    assert {"rung", "fill", "arch", "candidate"} <= set(board.columns) and board["fill"].notna().all()


@pytest.mark.integration
def test_rungs_promote_the_same_candidate_with_its_seed_to_a_longer_whole_schedule(general):
    out, _ = general
    trials = [t for t in _study(out).trials if t.user_attrs.get("status") != "prior"]  # the prior's observations have no rung
    assert _study(out).user_attrs["rungs"] == [1, 3]
    by_number = {t.number: t for t in trials}
    promoted = [t for t in trials if t.user_attrs["rung"] == 1]
    assert promoted, "7 trials on rungs [1, 3] must promote at least one candidate"
    for t in promoted:
        parent = by_number[t.user_attrs["candidate"]]
        assert parent.user_attrs["rung"] == 0 and parent.params == t.params
        assert parent.user_attrs["seed"] == t.user_attrs["seed"] and t.user_attrs["epochs"] == 3
        assert parent.user_attrs["epochs"] == 1
        rung0 = sorted((x.user_attrs["val_acc"] for x in trials if x.user_attrs["rung"] == 0
                        and x.user_attrs["status"] == "complete"  # not a deferred sample
                        and x.datetime_complete < t.datetime_start), reverse=True)
        assert parent.user_attrs["val_acc"] >= rung0[len(rung0) // 3 - 1]  # in the top third when promoted
    assert not any(t.user_attrs.get("warm_start") for t in trials)  # --no-warm-start


@pytest.mark.integration
def test_outputs_say_when_the_first_feasible_trial_came_and_confirm_the_winner(general):
    out, output = general
    for name in ("history.png", "leaderboard.md", "best.yaml", "summary.json", "confirm/confirm.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert "first_feasible_s" in summary and summary["rungs"] == [1, 3]
    confirm = summary["confirm"]
    assert len(confirm["seeds"]) == 2 and summary["best"]["seed"] not in confirm["seeds"]
    assert confirm["median_test_acc"] == pytest.approx(sum(confirm["test_acc"]) / 2)
    assert "first feasible trial" in output and "confirmed on all training images" in output
    assert output.count(" rung ") >= 7  # a line per finished trial, with its rung, params, fill


@pytest.mark.integration
def test_warm_start_runs_the_shipped_winner_scaled_into_the_budget_first(tmp_path):
    result = runner.invoke(app, ["search", "--trials", "1", "--no-retrain", "--out", str(tmp_path), *TINY])
    assert result.exit_code == 0, result.output
    first = _study(tmp_path).trials[0]
    assert first.user_attrs["warm_start"] and first.params["stages"] == 2 and first.params["convs2"] == 3
    assert first.user_attrs["params"] <= 3000 and first.user_attrs["arch"].count(" / ") == 2


def test_a_budget_below_the_smallest_model_is_refused_at_once(tmp_path):
    result = runner.invoke(app, ["search", "--max-params", "100", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "below the smallest model" in result.output and "144 params" in result.output
    assert not (tmp_path / "s").exists()


def test_bad_rungs_are_refused(tmp_path):
    result = runner.invoke(app, ["search", "--rungs", "5,2", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "increasing" in result.output


@pytest.mark.integration
def test_ctrl_c_prints_one_line_and_the_resume_reruns_the_interrupted_trial(tmp_path, monkeypatch):
    import budgetnet.search.objective as search_module

    real_train = search_module.train
    calls = {"n": 0}

    def interrupted_second_trial(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(search_module, "train", interrupted_second_trial)
    args = ["search", "--trials", "3", "--no-retrain", "--out", str(tmp_path), *TINY]
    first = runner.invoke(app, args)
    assert first.exit_code == 130, first.output
    assert "Traceback" not in first.output
    assert len([line for line in first.output.splitlines() if "interrupted" in line]) == 1
    hit = [t for t in _study(tmp_path).trials if t.user_attrs.get("status") == "interrupted"]
    assert len(hit) == 1

    monkeypatch.setattr(search_module, "train", real_train)
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    trials = _study(tmp_path).trials
    rerun = [t for t in trials if t.user_attrs.get("retry_of") == hit[0].number]
    assert len(rerun) == 1 and rerun[0].user_attrs["status"] == "complete"
    assert rerun[0].params == hit[0].params
    for key in ("seed", "rung", "candidate"):
        assert rerun[0].user_attrs[key] == hit[0].user_attrs[key]


def test_search_definitions_have_one_home():
    """The shipped definitions live in the package; the top-level folder is a link to it."""
    top = ROOT / "searches"
    assert top.is_symlink() and top.resolve() == SEARCH_DIR.resolve()
    assert (SEARCH_DIR / "general.yaml").is_file()


@pytest.mark.integration
def test_bench_search_reports_every_setup(tmp_path):
    result = runner.invoke(app, ["bench", "search", "--setup", "default", "--max-params", "3000", "--timeout", "5",
                                 "--subset", "300", "--epochs", "1", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output[result.output.index("["):])
    assert [r["search"] for r in rows] == ["default"]
    r = rows[0]
    for key in ("first_feasible_s", "best_val_at_min", "trials_per_hour", "workers"):
        assert key in r
    assert r["trained_trials"] >= 1 and set(r["best_val_at_min"]) == {"10", "20", "30", "60"}
    assert r["workers"] == (os.cpu_count() or 1)
    again = runner.invoke(app, ["bench", "search", "--setup", "default", "--max-params", "3000", "--out", str(tmp_path),
                                "--json"])
    assert json.loads(again.output[again.output.index("["):])[0]["ran_now"] is False  # analysed, not rerun


@pytest.mark.integration
def test_parallel_workers_sample_different_candidates(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "w"
    result = subprocess.run([sys.executable, "-m", "budgetnet", "search", "--max-params", "2000", "--workers", "2",
                             "--threads", "1", "--trials", "4", "--epochs", "1", "--subset", "300", "--no-warm-start",
                             "--no-retrain", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = _study(out, "general-2000").trials
    rung0 = [tuple(sorted(t.params.items())) for t in trials if t.user_attrs.get("rung") == 0]
    assert len(rung0) >= 2 and len(set(rung0)) == len(rung0)


@pytest.mark.integration
def test_workers_stop_when_their_command_is_killed(tmp_path):
    """SIGKILL to the command (not its group): its workers finish their trial and start no other."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "budgetnet", "search", "--max-params", "2000", "--workers", "2",
                             "--threads", "1", "--epochs", "1", "--subset", "300", "--no-warm-start", "--no-retrain",
                             "--timeout", "300", "--out", str(tmp_path / "o")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.time() + 120
    children = []
    while time.time() < deadline and len(children) < 3:  # the resource tracker and two workers
        time.sleep(0.5)
        children = [int(p) for p in children_file.read_text().split()] if children_file.exists() else []
    assert children, "the workers never started"
    time.sleep(5)  # let them get into trials
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 60
    while time.time() < deadline and any(_running(pid) for pid in children):
        time.sleep(0.5)
    alive = [pid for pid in children if _running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "orphaned workers kept searching"


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


@pytest.mark.integration
@pytest.mark.parametrize("form", ["npz", "folder"])
def test_smoke_search_on_synthetic_colour_data(tmp_path, form):
    """The default search on 3x32x32 images of 5 classes, as a .npz and as an image folder: the
    family builds for the data, natural-image augmentation, no floor (first feasible n/a), the
    data's facts in the summary, a confirmation, and check / eval on the recorded data."""
    from tests.synthetic import write_folder, write_npz

    data = write_npz(tmp_path / "c.npz") if form == "npz" else write_folder(tmp_path / "folder")
    out = tmp_path / "s"
    result = runner.invoke(app, ["search", "--data", str(data), "--augment", "natural", "--trials", "3",
                                 "--no-warm-start", "--confirm", "1", "--out", str(out),
                                 "--max-params", "3000", "--epochs", "2", "--workers", "1", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "3x32x32, 5 classes, augment natural" in result.output and "first feasible" in result.output
    assert "n/a (no floor)" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["min_accuracy"] is None and summary["first_feasible_s"] is None
    assert summary["data"]["shape"] == [3, 32, 32] and summary["data"]["classes"] == 5
    assert summary["data"]["kind"] == form
    best = budgetnet.load_spec(out / "best.yaml")
    assert list(best.input) == [3, 32, 32] and best.classes == 5 and best.train.augment.hflip
    assert budgetnet.count_params(best) <= 3000
    confirm = json.loads((out / "confirm" / "confirm.json").read_text())
    assert confirm["data"]["fingerprint"] == summary["data"]["fingerprint"] and confirm["full_train"]
    ckpt = out / "confirm" / confirm["seeds"][0]["checkpoint"]
    check = runner.invoke(app, ["check", str(ckpt), "--min-accuracy", "0.0"])
    assert check.exit_code == 0 and "on the data in" in check.output
    ev = runner.invoke(app, ["eval", str(ckpt), "--json"])
    assert ev.exit_code == 0 and json.loads(ev.output)["test_acc"] == pytest.approx(confirm["seeds"][0]["test_acc"])


@pytest.mark.integration
def test_a_search_under_flash_and_ram_budgets_trains_only_what_fits(tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(app, ["search", "--max-flash", "4500", "--max-ram", "2500", "--trials", "2", "--epochs", "1",
                                 "--subset", "300", "--workers", "1", "--threads", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "int8 flash <= 4,500 B, int8 RAM <= 2,500 B" in result.output
    check = runner.invoke(app, ["check", str(out / "best.yaml"), "--max-model-bytes", "4500",
                                "--max-peak-activation-bytes", "2500"])
    assert check.exit_code == 0, check.output
    assert _study(out, "general-6999-flash4500-ram2500").trials  # its own study: another budget


@pytest.mark.integration
def test_a_resumed_study_trains_on_the_engine_it_recorded(tmp_path, monkeypatch):
    """A study created under another default engine (here: one that recorded none, i.e. the
    reference engine) keeps training its trials on it, and its best.yaml says so."""
    import budgetnet.search.objective as search_module

    real_train, engines = search_module.train, []

    def recording_train(spec, *args, **kwargs):
        engines.append(spec.train.engine)
        return real_train(spec, *args, **kwargs)

    monkeypatch.setattr(search_module, "train", recording_train)
    args = ["search", "--no-warm-start", "--no-prior", "--no-retrain", "--out", str(tmp_path), *TINY]
    assert runner.invoke(app, [*args, "--trials", "1"]).exit_code == 0
    assert engines == ["fast"]
    _study(tmp_path).set_user_attr("engine", None)  # as a study from before studies recorded their engine
    result = runner.invoke(app, [*args, "--trials", "2"])
    assert result.exit_code == 0, result.output
    assert engines[0] == "fast" and len(engines) > 1 and set(engines[1:]) == {"reference"}
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["train"]["engine"] == "reference"


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    result = runner.invoke(app, ["train", "mnistnet3", "--out", str(out), "--epochs", "1", "--subset", "512"])
    assert result.exit_code == 0, result.output
    return str(out / "checkpoint.pt")


@pytest.mark.integration
def test_a_teacher_distils_into_every_candidate_and_a_resumed_study_keeps_it(tmp_path, monkeypatch, teacher):
    import budgetnet.search.objective as search_module

    real_train, taught = search_module.train, []

    def recording_train(spec, *args, **kwargs):
        taught.append(spec.train.distill.teacher if spec.train.distill else None)
        return real_train(spec, *args, **kwargs)

    monkeypatch.setattr(search_module, "train", recording_train)
    args = ["search", "--no-warm-start", "--no-prior", "--no-retrain", "--out", str(tmp_path), *TINY]
    first = runner.invoke(app, [*args, "--trials", "1", "--teacher", teacher])
    assert first.exit_code == 0, first.output
    assert f"teacher {teacher} (T 4, alpha 0.5)" in first.output
    resumed = runner.invoke(app, [*args, "--trials", "2"])  # no --teacher: the study's own
    assert resumed.exit_code == 0, resumed.output
    assert len(taught) >= 2 and set(taught) == {teacher}
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["train"]["distill"]["teacher"] == teacher
    other = runner.invoke(app, [*args, "--trials", "3", "--teacher", str(tmp_path / "other.pt")])
    assert other.exit_code == 2 and "ran with the teacher" in other.output and "Traceback" not in other.output


@pytest.mark.parametrize("content", [None, b"not a checkpoint"])
def test_a_teacher_that_cannot_load_is_one_line_before_any_study(tmp_path, content):
    path, out = tmp_path / "teacher.pt", tmp_path / "out"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["search", "--teacher", str(path), "--out", str(out), *TINY])
    assert result.exit_code == 2 and f"--teacher: {path}" in result.output, result.output
    assert "Traceback" not in result.output and not (out / "study.db").exists()


@pytest.mark.integration
def test_a_teacher_for_other_images_is_refused(teacher):
    from budgetnet.errors import CheckpointError
    from budgetnet.spec.schema import DistillCfg
    from budgetnet.training.loop import load_teacher

    with pytest.raises(CheckpointError, match=r"search.yaml: .* takes input \[1, 28, 28\] "
                                              r"with 10 classes; the student takes \[3, 32, 32\] with 10"):
        load_teacher(DistillCfg(teacher=teacher), (3, 32, 32), 10, "search.yaml")
