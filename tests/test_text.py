"""Text as a data kind: the embedded corpus and a user's .txt, the `embed` op, next-token training
with bits per character, eval and sample, and bad text named in one line (exit 2)."""
import hashlib
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import budgetnet
from budgetnet.cli import app
from budgetnet.data.text import EMBEDDED_TEXT, TINYSHAKESPEARE, load_text
from budgetnet.errors import DataError, SpecError
from budgetnet.model.compile import build, summarize
from budgetnet.spec.schema import load_spec
from budgetnet.training.text import bpc, split_loss

runner = CliRunner()
CORPUS = "the quick brown fox jumps over the lazy dog.\n" * 40  # 1,800 characters, 29 symbols


def tiny_spec(tmp_path, vocab: int, tokens: int = 16, backend: str = "torch"):
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""name: tiny
backend: {backend}
input: {{tokens: {tokens}, vocab: {vocab}}}
layers:
  - embed: 16
  - pos_embed
  - encoder: {{heads: 2, mlp_ratio: 2.0, causal: true}}
  - ln
  - linear: {vocab}
train: {{epochs: 2, batch_size: 8, optimizer: {{name: adamw, lr: 0.01}}}}
""")
    return path


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "fox.txt"
    path.write_text(CORPUS)
    return path


def test_the_embedded_corpus_is_checked_and_split_by_position():
    d = load_text(TINYSHAKESPEARE)
    assert d.vocab == 65 and d.facts.chars == 1_115_394
    assert d.facts.fingerprint == hashlib.sha256(EMBEDDED_TEXT.read_bytes()).hexdigest()
    assert (len(d.train), len(d.val), len(d.test)) == (1_003_854, 55_769, 55_771)  # 90 / 5 / 5 %
    text = EMBEDDED_TEXT.read_text()
    assert "".join(d.facts.vocab[i] for i in d.val[:50]) == text[1_003_854:1_003_904]  # consecutive, in order


def test_embed_counts_exactly_and_both_backends_agree():
    spec = load_spec("transformer_002")
    rows = summarize(spec).rows
    assert (rows[0].op, rows[0].params, rows[0].macs, rows[0].out_shape) == ("embed", 65 * 64, 0, (64, 64))
    torch_model, ours = build(spec, backend="torch", seed=0), build(spec, backend="custom", seed=0)
    assert torch_model.state_dict().keys() == ours.state_dict().keys()
    ours.load_state_dict(torch_model.state_dict())
    x = torch.randint(0, 65, (3, 64), generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 65, (3, 64), generator=torch.Generator().manual_seed(1))
    for m in (torch_model, ours):
        F.cross_entropy(m(x).reshape(-1, 65), y.reshape(-1)).backward()
    torch.testing.assert_close(ours(x), torch_model(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours[0].weight.grad, torch_model[0].weight.grad, rtol=1e-4, atol=1e-6)


def test_text_spec_errors_are_located(tmp_path):
    with pytest.raises(SpecError, match=r"expected \[16, 29\].*linear: 29"):
        load_spec({"name": "t", "input": {"tokens": 16, "vocab": 29}, "layers": [{"embed": 8}]})
    with pytest.raises(SpecError, match="embed needs token ids"):
        load_spec({"name": "t", "layers": [{"embed": 8}, "flatten", {"linear": 10}]})
    with pytest.raises(SpecError, match="classes"):
        load_spec({"name": "t", "input": {"tokens": 4, "vocab": 5}, "classes": 5,
                   "layers": [{"embed": 8}, {"linear": 5}]})


def test_split_loss_is_the_mean_cross_entropy_over_every_next_character():
    torch.manual_seed(0)
    spec = load_spec({"name": "t", "input": {"tokens": 5, "vocab": 7}, "layers": [{"embed": 4}, {"linear": 7}]})
    model = build(spec, seed=0)
    ids = torch.randint(0, 7, (23,))  # 22 targets: windows at 0, 5, 10, 15, then a tail of 2
    want = []
    for start in (0, 5, 10, 15):
        want += F.cross_entropy(model(ids[start:start + 5][None])[0], ids[start + 1:start + 6], reduction="none").tolist()
    tail = F.cross_entropy(model(ids[17:22][None])[0, -2:], ids[21:23], reduction="none").tolist()
    assert split_loss(model, ids, 5) == pytest.approx(sum(want + tail) / 22)
    assert bpc(math.log(2)) == 1.0


def test_train_eval_and_sample_on_a_users_text_file(tmp_path, corpus):
    spec = tiny_spec(tmp_path, vocab=len(set(CORPUS)))
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", str(spec), "--out", str(out), "--data", str(corpus), "--threads", "1"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["kind"] == "text" and m["epochs"] == 2 and len(m["history"]) == 2
    assert m["data"]["ref"] == str(corpus.resolve()) and m["data"]["fingerprint"] == hashlib.sha256(corpus.read_bytes()).hexdigest()
    assert m["test_bpc"] == pytest.approx(m["test_loss"] / math.log(2))
    assert m["history"][-1]["val_bpc"] < math.log2(29)  # learned something: better than a uniform guess
    r = runner.invoke(app, ["eval", str(out / "checkpoint.pt"), "--json"])
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)
    assert e["test_bpc"] == pytest.approx(m["test_bpc"], rel=1e-5) and e["val_bpc"] == pytest.approx(m["val_bpc"], rel=1e-5)
    a = runner.invoke(app, ["sample", str(out / "checkpoint.pt"), "--chars", "40", "--seed", "3", "--prompt", "the "])
    b = runner.invoke(app, ["sample", str(out / "checkpoint.pt"), "--chars", "40", "--seed", "3", "--prompt", "the "])
    assert a.exit_code == 0 and a.stdout == b.stdout and a.stdout.startswith("the ") and len(a.stdout) == 4 + 40 + 1
    assert set(a.stdout[:-1]) <= set(CORPUS)


@pytest.mark.parametrize("content, message", [
    (b"", "empty text file"),
    (b"abc\x00def" * 10, "binary data"),
    (b"\xff\xfe\xfa" * 10, "not UTF-8"),
])
def test_bad_text_files_are_one_line(tmp_path, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_text(bad)
    r = runner.invoke(app, ["train", str(tiny_spec(tmp_path, 29)), "--out", str(tmp_path / "o"), "--data", str(bad)])
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


def test_a_spec_that_does_not_fit_the_text_is_refused(tmp_path, corpus):
    r = runner.invoke(app, ["train", str(tiny_spec(tmp_path, 65)), "--out", str(tmp_path / "o"), "--data", str(corpus)])
    assert r.exit_code == 2 and "vocabulary is 65 symbols" in r.stderr and "has 29" in r.stderr
    r = runner.invoke(app, ["train", str(tiny_spec(tmp_path, 29, tokens=200)), "--out", str(tmp_path / "o"),
                            "--data", str(corpus)])
    assert r.exit_code == 2 and "context 200 tokens is longer" in r.stderr
    r = runner.invoke(app, ["train", str(tiny_spec(tmp_path, 29)), "--out", str(tmp_path / "o"), "--data", "mnist"])
    assert r.exit_code == 2 and "trains on text" in r.stderr


def test_eval_and_sample_refuse_other_text_and_image_models(tmp_path, corpus):
    spec = tiny_spec(tmp_path, vocab=29)
    out = tmp_path / "run"
    assert runner.invoke(app, ["train", str(spec), "--out", str(out), "--data", str(corpus), "--epochs", "1"]).exit_code == 0
    other = tmp_path / "other.txt"
    other.write_text(CORPUS.upper())
    r = runner.invoke(app, ["eval", str(out / "checkpoint.pt"), "--data", str(other)])
    assert r.exit_code == 2 and "vocabulary" in r.stderr
    same_vocab = tmp_path / "same.txt"
    same_vocab.write_text(CORPUS[::-1])
    r = runner.invoke(app, ["eval", str(out / "checkpoint.pt"), "--data", str(same_vocab)])
    assert r.exit_code == 2 and "fingerprint" in r.stderr
    r = runner.invoke(app, ["sample", str(out / "checkpoint.pt"), "--prompt", "#"])
    assert r.exit_code == 2 and "not in the vocabulary" in r.stderr
    img = tmp_path / "img"
    assert runner.invoke(app, ["train", "cnn_002", "--out", str(img), "--epochs", "1", "--subset", "64"]).exit_code == 0
    r = runner.invoke(app, ["sample", str(img / "checkpoint.pt")])
    assert r.exit_code == 2 and "image model" in r.stderr


def test_check_counts_a_text_spec():
    r = runner.invoke(app, ["check", "transformer_002", "--max-params", "62593", "--max-macs", "4000000"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["check", "transformer_002", "--max-params", "62592"])
    assert r.exit_code == 1
    r = runner.invoke(app, ["check", "transformer_002", "--min-accuracy", "0.5", "--weights",
                            str(Path(__file__).resolve().parent.parent / "reports/seeds/transformer_002/checkpoint.pt")])
    assert r.exit_code == 2 and "text model" in r.stderr and "Traceback" not in r.output  # no accuracy to check
    assert budgetnet.count_params("transformer_002") == 62_593


def test_image_only_commands_refuse_a_text_spec_in_one_line(tmp_path):
    for args in (["confirm", "transformer_002", "--out", str(tmp_path / "c")],
                 ["spread", "transformer_002", "--out", str(tmp_path / "s")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "text model" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "c").exists() and not (tmp_path / "s").exists()
