"""--data: every format, the facts a run records, splits for any size, and bad data named in one
line (exit 2, nothing written)."""
import gzip
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from budgetnet.cli import app
from budgetnet.data.datasets import MNIST_FINGERPRINT, describe, load_dataset, validation_indices
from budgetnet.data.sources import EMBEDDED, resolve
from budgetnet.errors import DataError
from budgetnet.spec.schema import load_spec
from tests.synthetic import CLASSES, images, write_folder, write_npz

runner = CliRunner()
TINY = ["--epochs", "1", "--subset", "64"]


def test_embedded_mnist_fingerprint_is_the_pinned_one_and_keeps_its_split():
    facts = describe()
    assert facts.fingerprint == MNIST_FINGERPRINT and facts.is_mnist and facts.kind == "mnist"
    assert (facts.shape, facts.classes, facts.train_images, facts.test_images) == ((1, 28, 28), 10, 60_000, 10_000)
    d = load_dataset("mnist")
    assert (len(d.train), len(d.val)) == (55_000, 5_000)  # exactly the committed split


def test_an_idx_copy_of_mnist_is_the_same_data_raw_or_gzipped(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in EMBEDDED.glob("*.gz"):
        (raw / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
    a = resolve(raw)
    assert a.kind == "idx" and a.fingerprint == MNIST_FINGERPRINT
    assert torch.equal(load_dataset(raw).val.y, load_dataset().val.y)  # MNIST's split, wherever it lies


def test_npz_and_folder_of_the_same_images_read_alike(tmp_path):
    npz = resolve(write_npz(tmp_path / "c.npz"))
    folder = resolve(write_folder(tmp_path / "folder", train=300, test=100))
    for a in (npz, folder):
        assert a.x_train.shape == (300, 3, 32, 32) and a.x_train.dtype == np.uint8 and a.classes == 5
    assert folder.class_names == CLASSES and npz.class_names is None
    # the folder groups images by class; the same pixels, in another order
    order = np.argsort(npz.y_train, kind="stable")
    assert np.array_equal(folder.x_train, npz.x_train[order]) and np.array_equal(folder.y_train, npz.y_train[order])
    assert npz.fingerprint != folder.fingerprint  # other order and names: other data


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW"])
def test_npz_layouts_and_float_images(tmp_path, layout):
    x, y = images(40, 0, side=8)
    gray = x[..., 0].astype(np.float32) / 255
    arr = {"NHW": gray, "NHWC": gray[..., None], "NCHW": gray[:, None]}[layout]
    np.savez(tmp_path / "f.npz", x_train=arr, y_train=y, x_test=arr[:10], y_test=y[:10])
    d = load_dataset(tmp_path / "f.npz")
    assert d.shape == [1, 8, 8]
    assert torch.allclose(d.test.x[:, 0], torch.from_numpy(gray[:10]))  # floats are kept, never divided by 255


def test_facts_per_channel_stats_and_stratified_split(tmp_path):
    d = load_dataset(write_npz(tmp_path / "c.npz", train=240, test=50))
    f = d.facts
    assert f.kind == "npz" and f.shape == (3, 32, 32) and len(f.mean) == 3 and f.mean[0] != f.mean[2]
    assert torch.allclose(torch.tensor(f.mean), d.train.x.mean(dim=(0, 2, 3)))
    assert len(d.val) == 20 and torch.bincount(d.val.y).tolist() == [4] * 5  # 1/12, stratified
    y = np.array([0] * 100 + [1] * 3 + [2] * 2)
    val = validation_indices(y, mnist_split=False)
    assert np.bincount(y[val]).tolist() == [8, 1, 1]  # the floor: every class validated, one left to train
    with pytest.raises(DataError, match="class 1 has 1 training image"):
        validation_indices(np.array([0, 0, 1]), mnist_split=False)


def _bad_npz(tmp_path, **arrays):
    x, y = images(20, 0, side=8)
    base = dict(x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    np.savez(tmp_path / "bad.npz", **{k: v for k, v in (base | arrays).items() if v is not None})
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("arrays,message", [
    (dict(y_test=None), "missing key 'y_test'"),
    (dict(y_train=np.arange(19) % 5), "x_train has 20 images but y_train has 19 labels"),
    (dict(y_train=np.arange(20) % 5 * 2), "labels skip classes: 1 never occurs in y_train"),
    (dict(y_test=np.array([0, 1, 2, 3, 9])), "label 9 in y_test is out of range 0..4"),
    (dict(x_train=np.zeros((20, 8, 8, 4), np.uint8)), "with 1 or 3 channels"),
    (dict(x_train=np.zeros((20, 3, 8, 8), np.int32)), "images must be uint8 or float"),
])
def test_bad_npz_is_named_in_one_line(tmp_path, arrays, message):
    path = _bad_npz(tmp_path, **arrays)
    with pytest.raises(DataError, match=message):
        resolve(path)
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "cnn_002", "--out", str(out), "--data", str(path), *TINY])
    assert result.exit_code == 2 and message.split(":")[0] in result.stderr and "bad.npz" in result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_bad_image_folders_are_named(tmp_path):
    root = write_folder(tmp_path / "f", train=20, test=10)
    (root / "train" / "cross" / "notes.txt").write_text("not an image")  # skipped, counted
    assert resolve(root).skipped == 1
    (root / "train" / "square" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match="broken.png: not a readable image"):
        resolve(root)
    (root / "train" / "square" / "broken.png").unlink()
    from PIL import Image
    Image.new("RGB", (16, 16)).save(root / "train" / "square" / "small.png")
    with pytest.raises(DataError, match="small.png: 16x16 RGB, but .* is 32x32 RGB"):
        resolve(root)
    (root / "train" / "square" / "small.png").unlink()
    for f in (root / "train" / "triangle").iterdir():
        f.unlink()
    with pytest.raises(DataError, match="triangle: an empty class folder"):
        resolve(root)


def test_unknown_data_is_one_line(tmp_path):
    for path, message in ((tmp_path / "nope.npz", "not found"), (tmp_path, "train-images-idx3-ubyte: file not found")):
        result = runner.invoke(app, ["eval", "reports/lean7k/confirm/seed1/checkpoint.pt", "--data", str(path)])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_train_records_the_data_and_eval_refuses_other_data(tmp_path):
    data = write_npz(tmp_path / "c.npz")
    out = tmp_path / "run"
    spec = tmp_path / "net.yaml"  # no input, no classes: the data's
    spec.write_text("name: colour\nlayers: [{conv: {out: 8}}, relu, {maxpool: 2}, {conv: {out: 8}}, relu, gap,\n"
                    "  {conv: {out: 5, k: 1}}, flatten]\ntrain: {epochs: 1, batch_size: 32, augment: {hflip: true}}\n")
    result = runner.invoke(app, ["train", str(spec), "--out", str(out), "--data", str(data)])
    assert result.exit_code == 0, result.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"]["kind"] == "npz" and m["data"]["shape"] == [3, 32, 32] and len(m["mean"]) == 3
    ev = runner.invoke(app, ["eval", str(out / "checkpoint.pt"), "--json"])  # the recorded data, by itself
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.output)["test_acc"] == pytest.approx(m["test_acc"])
    other = write_npz(tmp_path / "other.npz", train=310)
    refused = runner.invoke(app, ["eval", str(out / "checkpoint.pt"), "--data", str(other)])
    assert refused.exit_code == 2 and "fingerprint" in refused.stderr and "other.npz" in refused.stderr
    check = runner.invoke(app, ["check", str(out / "checkpoint.pt"), "--min-accuracy", "0.01", "--data", str(other)])
    assert check.exit_code == 2 and "fingerprint" in check.output  # one line per input, in the report
    check = runner.invoke(app, ["check", str(out / "checkpoint.pt"), "--min-accuracy", "0.01"])
    assert check.exit_code == 0 and "c.npz" in check.output


def test_spec_that_does_not_fit_the_data_is_refused_before_training(tmp_path):
    data = write_npz(tmp_path / "c.npz")
    out = tmp_path / "run"
    spec = tmp_path / "m3.yaml"
    spec.write_text(load_spec("mnistnet3").to_yaml() + "input: [1, 28, 28]\n")  # states its input
    result = runner.invoke(app, ["train", str(spec), "--out", str(out), "--data", str(data), *TINY])
    assert result.exit_code == 2 and not out.exists()
    assert "input [1, 28, 28] (the data's images are [3, 32, 32]); classes 10 (the data has 5)" in result.stderr
    # the zoo's mnistnet3 leaves its input out: it takes the data's, and its ten outputs are refused
    result = runner.invoke(app, ["train", "mnistnet3", "--out", str(out), "--data", str(data), *TINY])
    assert result.exit_code == 2 and not out.exists() and "classes 10 (the data has 5)" in result.stderr


def test_a_checkpoint_from_before_data_facts_is_taken_as_mnist(tmp_path):
    from budgetnet.training.checkpoint import read_checkpoint, save_checkpoint
    from budgetnet.training.checkpoint import load_checkpoint

    ckpt = read_checkpoint("reports/lean7k/confirm/seed1/checkpoint.pt")
    assert "data" not in ckpt["metrics"]  # committed before runs recorded their data
    model, _ = load_checkpoint("reports/lean7k/confirm/seed1/checkpoint.pt")
    save_checkpoint(tmp_path / "old.pt", model, ckpt["metrics"])
    result = runner.invoke(app, ["eval", str(tmp_path / "old.pt")])
    assert result.exit_code == 0 and "records no data" in result.stderr and "embedded MNIST" in result.stderr
    fashion_like = write_npz(tmp_path / "c.npz")
    refused = runner.invoke(app, ["eval", str(tmp_path / "old.pt"), "--data", str(fashion_like)])
    assert refused.exit_code == 2 and "fingerprint" in refused.stderr
