"""Training, checkpoints and evaluation: reproducible, resumable, honest about bad input."""
import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from budgetnet.cli import app
from budgetnet.data.datasets import load_dataset
from budgetnet.errors import CheckpointError
from budgetnet.training.runs import evaluate_checkpoint, train_run
from budgetnet.training.schedule import make_optimizer, make_scheduler
from budgetnet.spec.schema import SchedulerCfg, OptimizerCfg, load_spec

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = runner.invoke(app, ["train", "mnistnet3", "--out", str(out), "--epochs", "2", "--subset", "1024"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.integration
def test_train_writes_outputs(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    for key in ("params", "epochs", "seconds", "val_acc", "test_acc", "best_val_acc", "history"):
        assert key in metrics
    assert metrics["params"] == 6560 and metrics["epochs"] == 2 and len(metrics["history"]) == 2
    assert set(metrics["history"][0]) >= {"train_loss", "val_acc", "seconds"}
    assert (trained / "curves.png").stat().st_size > 1000
    ckpt = torch.load(trained / "checkpoint.pt", weights_only=True)  # safe loading works
    assert ckpt["resume"] is None and ckpt["spec"]["name"] == "mnistnet3"


@pytest.mark.integration
def test_same_seed_same_metrics(tmp_path):
    a = train_run("mnistnet3", tmp_path / "a", epochs=2, subset=512, seed=5)
    b = train_run("mnistnet3", tmp_path / "b", epochs=2, subset=512, seed=5)
    c = train_run("mnistnet3", tmp_path / "c", epochs=2, subset=512, seed=6)
    assert [h.train_loss for h in a.history] == [h.train_loss for h in b.history]
    assert (a.val_acc, a.test_acc) == (b.val_acc, b.test_acc)
    assert [h.train_loss for h in a.history] != [h.train_loss for h in c.history]


@pytest.mark.integration
def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    full = train_run("mnistnet3", tmp_path / "full", epochs=3, subset=512, seed=1)

    def interrupt(stat, result):
        if stat.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run("mnistnet3", tmp_path / "cut", epochs=3, subset=512, seed=1, on_epoch=interrupt)
    assert not (tmp_path / "cut" / "metrics.json").exists()  # nothing half-finished claims to be done
    resumed = train_run("mnistnet3", tmp_path / "cut", epochs=3, subset=512, seed=1, resume=True)
    assert [h.train_loss for h in resumed.history] == [h.train_loss for h in full.history]
    assert resumed.test_acc == full.test_acc


@pytest.mark.integration
def test_run_interrupted_inside_an_epoch_resumes_to_the_same_result(tmp_path):
    """Checkpoints within an epoch (here after every step): an hours-long epoch is not lost."""
    full = train_run("mnistnet3", tmp_path / "full", epochs=2, subset=512, seed=2)
    batches = []

    def interrupt(n):
        batches.append(n)
        if len(batches) == 6:  # epoch 2 of 4 steps each: inside it
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run("mnistnet3", tmp_path / "cut", epochs=2, subset=512, seed=2, on_batch=interrupt, checkpoint_minutes=0)
    progress = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["resume"]["progress"]
    assert (progress["epoch"], progress["step"]) == (2, 1)
    with pytest.raises(CheckpointError, match="written for .* training images, this run has"):
        train_run("mnistnet3", tmp_path / "cut", epochs=2, subset=256, seed=2, resume=True)  # not the same data
    resumed = train_run("mnistnet3", tmp_path / "cut", epochs=2, subset=512, seed=2, resume=True)
    assert [h.train_loss for h in resumed.history] == [h.train_loss for h in full.history]
    assert (resumed.val_acc, resumed.test_acc) == (full.val_acc, full.test_acc)


@pytest.mark.integration
def test_eval_json_and_confusion(trained, tmp_path):
    before = sorted(p.name for p in trained.iterdir())
    result = runner.invoke(app, ["eval", str(trained / "checkpoint.pt"), "--json"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert report["test_acc"] == metrics["test_acc"] and report["f1_macro"] == metrics["f1_macro"]
    assert len(report["precision"]) == len(report["recall"]) == 10 and sum(map(sum, report["confusion"])) == 10_000
    assert sorted(p.name for p in trained.iterdir()) == before  # evaluating is read-only
    result = runner.invoke(app, ["eval", str(trained / "checkpoint.pt"), "--plot", str(tmp_path / "cm.png")])
    assert result.exit_code == 0 and "macro F1" in result.output and (tmp_path / "cm.png").is_file()


@pytest.mark.parametrize("content", [b"junk\n", b"\x80\x02}q\x00.", b"PK\x03\x04"])
def test_a_file_that_is_no_checkpoint_is_one_line(tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    result = runner.invoke(app, ["eval", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.stderr.count("\n") == 1 and str(bad) in result.stderr


@pytest.mark.integration
def test_truncated_checkpoint_is_one_line(trained, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes((trained / "checkpoint.pt").read_bytes()[:3000])
    result = runner.invoke(app, ["eval", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and str(bad) in result.stderr and "truncated or corrupt" in result.stderr


@pytest.mark.integration
def test_checkpoint_of_another_spec_is_refused(trained):
    with pytest.raises(CheckpointError, match="different architecture"):
        evaluate_checkpoint(trained / "checkpoint.pt", expected="mnistnet2")
    result = runner.invoke(app, ["check", "mnistnet2", "--min-accuracy", "0.5", "--weights", str(trained / "checkpoint.pt")])
    assert result.exit_code == 2 and "different architecture" in result.output


@pytest.mark.integration
def test_check_min_accuracy_with_weights(trained):
    acc = json.loads((trained / "metrics.json").read_text())["test_acc"]
    ok = runner.invoke(app, ["check", "mnistnet3", "--min-accuracy", f"{acc - 0.01:.4f}", "--weights", str(trained / "checkpoint.pt")])
    bad = runner.invoke(app, ["check", "mnistnet3", "--min-accuracy", f"{min(acc + 0.01, 1):.4f}", "--weights", str(trained / "checkpoint.pt")])
    assert ok.exit_code == 0 and bad.exit_code == 1


def test_step_schedule_matches_steplr():
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = make_optimizer(params, OptimizerCfg(lr=0.05))
    sched = make_scheduler(opt, SchedulerCfg(name="step", step_size=4, gamma=0.35), steps_per_epoch=10, epochs=15)
    lrs = []
    for _ in range(150):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[39] == pytest.approx(0.05) and lrs[40] == pytest.approx(0.05 * 0.35) and lrs[80] == pytest.approx(0.05 * 0.35 ** 2)


def test_the_linear_schedule_decays_to_zero_within_the_budget():
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = make_optimizer(params, OptimizerCfg(lr=0.1))
    sched = make_scheduler(opt, SchedulerCfg(name="linear"), steps_per_epoch=10, epochs=5)
    lrs = []
    for _ in range(50):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[25] == pytest.approx(0.05) and lrs[49] == pytest.approx(0.002)
    assert opt.param_groups[0]["lr"] == 0.0


def test_seed_recipes_are_expressible():
    assert load_spec("mnistnet2").train.optimizer.nesterov and load_spec("mnistnet2").train.scheduler.step_size == 2
    assert load_spec("mnistnet3").train.scheduler.gamma == 0.35


# ----------------------------------------------------------------------------- data
def test_embedded_mnist_facts():
    d = load_dataset()
    assert (len(d.train), len(d.val), len(d.test)) == (55_000, 5_000, 10_000)
    assert d.test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    full = load_dataset(full_train=True)
    assert full.train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4] and full.val is None
    assert torch.bincount(full.train.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def _copy_data(tmp_path):
    from budgetnet.data.sources import EMBEDDED
    d = tmp_path / "idx"
    shutil.copytree(EMBEDDED, d)
    return d


@pytest.mark.parametrize("damage", ["missing", "truncated", "corrupt"])
def test_bad_data_file_is_named(tmp_path, damage):
    d = _copy_data(tmp_path)
    target = d / "t10k-labels-idx1-ubyte.gz"
    if damage == "missing":
        target.unlink()
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:100])
    else:
        import gzip
        raw = bytearray(gzip.decompress(target.read_bytes()))
        raw[100] ^= 1
        target.write_bytes(gzip.compress(bytes(raw)))
    result = runner.invoke(app, ["train", "mnistnet3", "--out", str(tmp_path / "o"), "--epochs", "1",
                                 "--subset", "64", "--data-dir", str(d)])
    assert result.exit_code == 2 and "t10k-labels-idx1-ubyte" in result.stderr
    assert "Traceback" not in result.output


def test_other_idx_directory_works_without_checksums(tmp_path):
    d = _copy_data(tmp_path)
    (d / "SHA256SUMS.idx").unlink()
    assert len(load_dataset(d).test) == 10_000


@pytest.mark.parametrize("name", ["onecycle", "cosine", "linear", "step", "none"])
@pytest.mark.parametrize("steps,epochs", [(1, 1), (2, 1), (50, 3)])
def test_every_schedule_survives_tiny_and_normal_runs(name, steps, epochs):
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = make_optimizer(params, OptimizerCfg(lr=0.1))
    sched = make_scheduler(opt, SchedulerCfg(name=name, warmup_epochs=0.5), steps_per_epoch=steps, epochs=epochs)
    for _ in range(steps * epochs):
        opt.step()
        sched.step()
        assert 0 <= opt.param_groups[0]["lr"] <= 0.1 + 1e-12


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os
    from budgetnet import atomic
    atomic.write_text(tmp_path / "x.txt", "hi")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def _tiny(**train) -> dict:
    return {"name": "tiny", "layers": [{"conv": {"out": 4, "k": 3}}, "relu", "bn", {"maxpool": 2}, "gap",
                                       {"conv": {"out": 10, "k": 1}}, "flatten"],
            "train": {"epochs": 3, "batch_size": 64, **train}}


@pytest.mark.integration
def test_ema_model_is_the_one_kept_and_resumes_exactly(tmp_path):
    plain = train_run(_tiny(), tmp_path / "plain", subset=512, seed=3)
    ema = train_run(_tiny(ema=0.9), tmp_path / "ema", subset=512, seed=3)
    assert [h.train_loss for h in ema.history] == [h.train_loss for h in plain.history]  # same raw training
    kept = torch.load(tmp_path / "ema" / "checkpoint.pt", weights_only=True)["state_dict"]
    raw = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)["state_dict"]
    first_weight = next(k for k in raw if k.endswith("weight"))
    assert kept.keys() == raw.keys()  # a plain model's checkpoint: no averaging wrapper inside
    assert not torch.equal(kept[first_weight], raw[first_weight])  # the average, not the last step
    assert evaluate_checkpoint(tmp_path / "ema" / "checkpoint.pt").test_acc == ema.test_acc

    def interrupt(stat, result):
        if stat.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(_tiny(ema=0.9), tmp_path / "cut", subset=512, seed=3, on_epoch=interrupt)
    resumed = train_run(_tiny(ema=0.9), tmp_path / "cut", subset=512, seed=3, resume=True)
    assert (resumed.val_acc, resumed.test_acc) == (ema.val_acc, ema.test_acc)


@pytest.mark.integration
def test_distillation_mixes_in_the_teacher_and_alpha_zero_is_plain_training(tmp_path, trained):
    teacher = str(trained / "checkpoint.pt")
    plain = train_run(_tiny(), tmp_path / "plain", subset=512, seed=4)
    off = train_run(_tiny(distill={"teacher": teacher, "alpha": 0.0}), tmp_path / "off", subset=512, seed=4)
    on = train_run(_tiny(distill={"teacher": teacher, "alpha": 0.7, "temperature": 3.0}), tmp_path / "on",
                   subset=512, seed=4)
    assert [h.train_loss for h in off.history] == pytest.approx([h.train_loss for h in plain.history])
    assert on.history[0].train_loss != pytest.approx(plain.history[0].train_loss)
    assert on.params == plain.params  # the teacher is never the student's parameters


def test_a_missing_teacher_is_one_line(tmp_path, write_yaml):
    import yaml
    spec = write_yaml(yaml.safe_dump(_tiny(distill={"teacher": str(tmp_path / "nope.pt")})))
    result = runner.invoke(app, ["train", spec, "--out", str(tmp_path / "run"), "--subset", "128"])
    assert result.exit_code == 2 and "nope.pt" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("change, named", [({"input": [3, 32, 32]}, "input [3, 32, 32] (the data's images are [1, 28, 28])"),
                                           ({"classes": 7}, "classes 7 (the data has 10)")])
def test_a_spec_that_does_not_fit_the_data_is_refused_before_training(tmp_path, write_yaml, change, named):
    import yaml
    raw = _tiny() | change
    raw["layers"][-2]["conv"]["out"] = raw.get("classes", 10)
    spec = write_yaml(yaml.safe_dump(raw))
    for command in (["train", spec, "--out", str(tmp_path / "run"), "--subset", "128"],
                    ["confirm", spec, "--out", str(tmp_path / "c")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "Traceback" not in result.output
        (line,) = result.stderr.splitlines()
        assert line == f"error: {spec}: the spec does not fit the embedded MNIST: {named}"
    assert not (tmp_path / "run").exists() and not (tmp_path / "c").exists()
