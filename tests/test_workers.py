"""Many workers on one study: a real PostgreSQL server, SIGKILL mid-trial, exact trial counts."""
import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml

from budgetnet.search.storage import make_storage
from tests.postgres import PostgresServer

pytestmark = pytest.mark.integration  # worker processes, SQLite and PostgreSQL

REFERENCE = {"c1": 8, "c2": 16, "c3": 16, "t": 8, "tnorm": "bn", "c4": 12, "c5": 16, "p": 0.01, "lr": 0.05,
             "nesterov": False, "sched": "step", "step_size": 4, "gamma": 0.35, "epochs": 15, "batch_size": 128,
             "rotate": 16.5, "translate": 0.0}


def _started_server() -> tuple[PostgresServer, str]:
    server = PostgresServer.__new__(PostgresServer)
    try:
        server.__init__()
        return server, server.start()
    except (RuntimeError, subprocess.SubprocessError, OSError, KeyError) as e:
        pytest.skip(f"no PostgreSQL server could be started here: {e}")


@pytest.fixture(scope="module")
def pg_url():
    server, url = _started_server()
    yield url
    server.stop()


def _worker(storage: str, study: str, out, trials: int, epochs: int, subset: int, heartbeat: int = 5):
    cmd = [sys.executable, "-m", "budgetnet", "search", "under7k", "--max-params", "7000", "--storage", storage,
           "--study-name", study, "--trials", str(trials), "--epochs", str(epochs), "--subset", str(subset),
           "--out", str(out), "--no-retrain", "--heartbeat", str(heartbeat), "--workers", "1",
           "--pruner", "quartile"]  # whole 4-epoch trials: the test kills one mid-way
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)


def _load(storage: str, study: str) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=make_storage(storage, heartbeat=None))


def _trained(study):
    return [t for t in study.trials if t.user_attrs.get("status") in ("complete", "pruned")]


def test_four_workers_finish_exactly_the_requested_trials(pg_url, tmp_path):
    procs = [_worker(pg_url, "conc", tmp_path / f"machine{i}", trials=8, epochs=1, subset=600) for i in range(4)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    study = _load(pg_url, "conc")
    states = [t.state for t in study.trials]
    assert len(_trained(study)) == 8
    assert optuna.trial.TrialState.FAIL not in states and optuna.trial.TrialState.RUNNING not in states
    references = [t for t in study.trials if t.system_attrs.get("fixed_params") == REFERENCE]
    assert len(references) == 1  # the enqueued MnistNet_3 ran once, not once per worker
    assert all("Traceback" not in out for out in outputs)


def test_killed_worker_loses_nothing(pg_url, tmp_path):
    out_a = tmp_path / "a"
    a = _worker(pg_url, "kill", out_a, trials=3, epochs=4, subset=3000, heartbeat=1)
    victim, completed_before = None, set()
    deadline = time.time() + 300
    while time.time() < deadline and victim is None:
        time.sleep(0.5)
        try:
            study = _load(pg_url, "kill")
        except KeyError:
            continue  # not created yet
        for t in study.trials:
            if t.state == optuna.trial.TrialState.RUNNING and len(t.intermediate_values) >= 1:
                victim = t.number
                completed_before = {u.number for u in study.trials if u.user_attrs.get("status") == "complete"}
    assert victim is not None, "no trial was caught mid-training"
    os.killpg(a.pid, signal.SIGKILL)  # the whole worker, mid-trial, no chance to clean up
    a.wait()
    time.sleep(4)  # > 3 missed heartbeats
    b = _worker(pg_url, "kill", tmp_path / "b", trials=3, epochs=4, subset=3000, heartbeat=1)
    out_b = b.communicate(timeout=600)[0]
    assert b.returncode == 0, out_b
    study = _load(pg_url, "kill")
    killed = study.trials[victim]
    assert killed.state == optuna.trial.TrialState.FAIL  # never left RUNNING
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == victim]
    assert len(retries) == 1 and retries[0].params == killed.params
    assert retries[0].user_attrs.get("status") in ("complete", "pruned")
    assert len(_trained(study)) == 3
    assert completed_before <= {t.number for t in study.trials if t.user_attrs.get("status") == "complete"}
    # what the killed worker left on disk is whole: every file parses (temp files aside)
    for path in out_a.rglob("*") if out_a.exists() else []:
        if path.is_file() and ".tmp" not in path.name:
            if path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".yaml":
                yaml.safe_load(path.read_text())


def test_sqlite_workers_share_one_study(tmp_path):
    out = tmp_path / "s"
    result = subprocess.run([sys.executable, "-m", "budgetnet", "search", "under7k", "--max-params", "7000",
                             "--workers", "3", "--trials", "5", "--epochs", "1", "--subset", "600",
                             "--out", str(out), "--no-retrain"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    study = _load(f"sqlite:///{out / 'study.db'}", "under7k-7000")
    assert len(_trained(study)) == 5
    assert all(t.state != optuna.trial.TrialState.FAIL for t in study.trials)


@pytest.fixture
def pg_server():
    """A server of this test's own, to stop and start."""
    server, url = _started_server()
    yield server, url
    server.stop()


def _search(url: str, out, trials: int, patience: int = 300):
    cmd = [sys.executable, "-m", "budgetnet", "search", "--max-params", "7000", "--storage", url, "--trials", str(trials),
           "--rungs", "2", "--subset", "512", "--workers", "2", "--threads", "1", "--heartbeat", "2",
           "--storage-patience", str(patience), "--no-retrain", "--no-warm-start", "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _wait_for_a_trained_trial(url: str, deadline: float) -> None:
    while time.time() < deadline:
        try:
            studies = optuna.get_all_study_names(make_storage(url, heartbeat=None))
            if studies and _trained(_load(url, studies[0])):
                return
        except Exception:
            pass
        time.sleep(1)
    pytest.fail("no trial finished in time")


def test_workers_wait_for_a_database_that_comes_back_and_lose_no_trial(pg_server, tmp_path):
    server, url = pg_server
    search = _search(url, tmp_path / "s", trials=4)
    _wait_for_a_trained_trial(url, time.time() + 240)
    server.pause()  # gone for a while: workers wait for it instead of failing
    time.sleep(15)
    server.resume()
    output, _ = search.communicate(timeout=600)
    assert search.returncode == 0, output
    assert "stopped answering" in output and "answers again" in output and "Traceback" not in output
    study = _load(url, optuna.get_all_study_names(make_storage(url, heartbeat=None))[0])
    trained = _trained(study)
    assert len(trained) == 4  # exactly the trials asked for: none lost, none counted twice
    assert len({t.number for t in trained}) == 4


def test_a_database_that_never_comes_back_costs_one_line(pg_server, tmp_path):
    server, url = pg_server
    search = _search(url, tmp_path / "s", trials=20, patience=10)
    _wait_for_a_trained_trial(url, time.time() + 240)
    server.pause()
    output, _ = search.communicate(timeout=300)
    assert search.returncode == 2, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert errors and "did not answer for 10 s" in errors[0] and "Traceback" not in output, output
