"""Faults of the machine: a full disk, a read-only or wrong output path, a corrupt study
database, a signal during a write. Each costs one line and exit code 2 (143 for SIGTERM), and
the last good file stays. Real small filesystems (tmpfs) where the test runs as root."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from budgetnet import atomic
from budgetnet.cli import app
from budgetnet.errors import StorageError
from budgetnet.training.checkpoint import read_checkpoint

runner = CliRunner()
TRAIN = ["train", "mnistnet3", "--epochs", "2", "--subset", "256", "--threads", "1"]


def one_line_error(result, *words):
    lines = [l for l in result.output.splitlines() if l.startswith("error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "Traceback" not in result.output and all(w in lines[0] for w in words), lines
    return lines[0]


def test_a_full_disk_mid_run_keeps_the_last_good_checkpoint_and_the_run_resumes_exactly(tmp_path, monkeypatch):
    whole = runner.invoke(app, TRAIN + ["--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    saves, real_save = [], torch.save

    def save_until_the_disk_fills(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:  # epoch 2's checkpoint: the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_the_disk_fills)
    out = tmp_path / "run"
    line = one_line_error(runner.invoke(app, TRAIN + ["--out", str(out)]), "no space left on device while writing",
                          str(out / "checkpoint.pt"))
    assert line.startswith("error: no space")
    assert read_checkpoint(out / "checkpoint.pt")["metrics"]["epochs"] == 1  # the last good one
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(torch, "save", real_save)  # space freed
    resumed = runner.invoke(app, TRAIN + ["--out", str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (tmp_path / "whole", out))
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    assert a["test_acc"] == b["test_acc"]


def test_a_failed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "record.json"
    atomic.write_json(target, {"good": 1})

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match=f"no space left on device while writing {target}"):
        atomic.write_json(target, {"good": 2})
    assert json.loads(target.read_text()) == {"good": 1} and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("command", [TRAIN, ["search", "--max-params", "7000", "--trials", "1", "--epochs", "1",
                                             "--subset", "256"]])
def test_an_output_path_that_is_a_file_or_under_one_is_one_line(tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    one_line_error(runner.invoke(app, command + ["--out", str(afile)]), str(afile), "is a file, not a folder")
    one_line_error(runner.invoke(app, command + ["--out", str(afile / "sub")]), str(afile / "sub"), "is a file")
    assert afile.read_text() == "mine"


def test_export_to_a_file_is_one_line(tmp_path):
    pytest.importorskip("onnxruntime")
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "mnistnet3", "--epochs", "1", "--subset", "256", "--out", str(run)]).exit_code == 0
    afile = tmp_path / "afile"
    afile.write_text("mine")
    one_line_error(runner.invoke(app, ["export", str(run / "checkpoint.pt"), "--out", str(afile)]), "is a file")
    assert afile.read_text() == "mine"


def test_a_corrupt_or_truncated_study_database_is_one_line_and_left_as_it_was(tmp_path):
    search = ["search", "--max-params", "7000", "--trials", "1", "--epochs", "1", "--subset", "256", "--out"]
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "study.db").write_bytes(os.urandom(5000))
    before = (garbage / "study.db").read_bytes()
    one_line_error(runner.invoke(app, search + [str(garbage)]), "study.db: not a readable study database")
    assert (garbage / "study.db").read_bytes() == before
    good = tmp_path / "good"
    assert runner.invoke(app, search + [str(good)]).exit_code == 0
    db = (good / "study.db").read_bytes()
    (good / "study.db").write_bytes(db[:len(db) // 3])  # truncated
    one_line_error(runner.invoke(app, search + [str(good)]), "study.db")


WRITER = """
import sys, torch
from budgetnet import atomic
atomic.unwind_on_signals()
path = sys.argv[1]
atomic.torch_save({"good": torch.arange(10)}, path)
print("ready", flush=True)
while True:  # large writes, one after another, until the signal lands in one
    atomic.torch_save({"good": torch.zeros(50_000_000)}, path)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_write_leaves_the_last_good_file(tmp_path, signum):
    path = tmp_path / "checkpoint.pt"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    assert child.stdout.readline().strip() == "ready"
    deadline = time.time() + 60
    while not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] and time.time() < deadline:
        time.sleep(0.01)  # a write is in progress once its temp file exists
    child.send_signal(signum)
    code = child.wait(120)
    assert code == 128 + signum if signum == signal.SIGTERM else code != 0  # Ctrl-C: KeyboardInterrupt unwinds
    assert torch.equal(torch.load(path, weights_only=True)["good"], torch.arange(10))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


# ----------------------------------------------------------------------------- real small filesystems
@pytest.fixture
def mount(tmp_path):
    """mount(options) -> a fresh tmpfs folder; skipped where the test cannot mount (not root)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    points = []

    def make(options: str) -> Path:
        point = tmp_path / f"mnt{len(points)}"
        point.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True).returncode:
            pytest.skip("this machine does not let the test mount a tmpfs")
        points.append(point)
        return point
    yield make
    for point in points:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_real_full_disk_is_one_line_and_leaves_no_partial_file(mount):
    full = mount("size=60k")
    out = full / "run"
    one_line_error(runner.invoke(app, TRAIN + ["--out", str(out)]), "no space left on device while writing")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not (out / "checkpoint.pt").exists()


def test_a_real_read_only_folder_is_one_line_for_train_search_and_check(mount):
    ro = mount("ro,size=1m")
    one_line_error(runner.invoke(app, TRAIN + ["--out", str(ro / "run")]), f"--out {ro / 'run'}: read-only file system")
    one_line_error(runner.invoke(app, ["search", "--max-params", "7000", "--trials", "1", "--epochs", "1", "--subset",
                                       "256", "--out", str(ro / "s")]), "read-only file system")
    one_line_error(runner.invoke(app, ["check", "mnistnet3", "--record", str(ro / "rec.json")]),
                   f"read-only file system while writing {ro / 'rec.json'}")


def test_a_search_whose_report_cannot_be_written_keeps_its_study_and_a_rerun_reports(tmp_path, monkeypatch):
    out = tmp_path / "s"
    search = ["search", "--max-params", "7000", "--trials", "1", "--epochs", "1", "--subset", "256", "--workers", "1",
              "--threads", "1", "--no-retrain", "--out", str(out)]
    real = atomic.write_text

    def full_disk(path, text):
        if Path(path).name == "leaderboard.md":
            raise StorageError(f"no space left on device while writing {path}")
        return real(path, text)

    monkeypatch.setattr(atomic, "write_text", full_disk)
    one_line_error(runner.invoke(app, search), "no space left on device while writing", "leaderboard.md")
    assert (out / "study.db").is_file() and not (out / "leaderboard.md").exists()
    monkeypatch.setattr(atomic, "write_text", real)  # space freed: the same command reports from the study
    again = runner.invoke(app, search)
    assert again.exit_code == 0, again.output
    assert (out / "leaderboard.md").is_file()
    assert "trial   0 rung" not in again.output  # nothing trained again: the study had its trial


def test_export_to_a_full_disk_is_one_line_and_writes_nothing(mount, tmp_path):
    pytest.importorskip("onnxruntime")
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "mnistnet3", "--epochs", "1", "--subset", "256", "--out", str(run)]).exit_code == 0
    full = mount("size=40k")
    one_line_error(runner.invoke(app, ["export", str(run / "checkpoint.pt"), "--out", str(full / "x"), "--int8"]),
                   "no space left on device")
    assert list(full.iterdir()) == []
