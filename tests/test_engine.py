"""The training engines: the fast engine's dropout masks, memory format and records."""
import pytest
import torch

from budgetnet.data.datasets import load_dataset
from budgetnet.errors import CheckpointError
from budgetnet.model import fastdropout
from budgetnet.model.compile import build
from budgetnet.training import engine
from budgetnet.training.loop import resume_state, train


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5])
def test_word_masks_drop_at_the_rate_asked(p):
    torch.manual_seed(0)
    keep = fastdropout.keep_mask(torch.zeros(400, 1000), p)
    # 400,000 draws: the standard error of the rate is below 0.0008
    assert abs((1 - keep.float().mean().item()) - p) < 0.004


def test_word_masks_follow_the_activations_layout_and_scale_the_kept_ones():
    x = torch.randn(8, 5, 6, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    drop = fastdropout.Dropout(0.25)
    drop.masks = "words"
    y = drop.train()(x)
    kept = y != 0
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(y[kept], x[kept] / 0.75)
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / 0.75)
    assert torch.equal(drop.eval()(x), x)


def test_word_masks_come_from_torchs_generator_so_a_seed_repeats_them():
    x = torch.ones(64, 17, 12, 12)
    torch.manual_seed(3)
    a = fastdropout.keep_mask(x, 0.1)
    torch.manual_seed(3)
    assert torch.equal(a, fastdropout.keep_mask(x, 0.1))


def test_prepare_sets_masks_and_format_per_engine():
    model = build("best_lean7k", seed=0)
    assert engine.prepare(model, "fast", images=True) == torch.channels_last
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert {m.masks for m in model.modules() if isinstance(m, fastdropout.Dropout)} == {"words"}
    assert engine.prepare(model, "reference", images=True) == torch.contiguous_format
    assert model[0].weight.is_contiguous()
    assert {m.masks for m in model.modules() if isinstance(m, fastdropout.Dropout)} == {"bernoulli"}


def _spec(engine_name):
    return {"name": "t", "input": [1, 28, 28],
            "layers": [{"conv": {"out": 4, "k": 3}}, "relu", "bn", {"dropout": 0.1}, {"maxpool": 2},
                       "gap", {"conv": {"out": 10, "k": 1}}, "flatten"],
            "train": {"epochs": 2, "batch_size": 32, "engine": engine_name}}


def test_each_run_records_its_engine_and_the_engines_differ_only_in_their_stream():
    data = load_dataset(subset=512)
    fast = train(_spec("fast"), data, seed=0)
    ref = train(_spec("reference"), data, seed=0)
    assert (fast.metrics.engine, ref.metrics.engine) == ("fast", "reference")
    assert fast.metrics.to_dict()["engine"] == "fast"
    assert [h.train_loss for h in fast.metrics.history] != [h.train_loss for h in ref.metrics.history]
    again = train(_spec("fast"), data, seed=0)
    assert [h.train_loss for h in again.metrics.history] == [h.train_loss for h in fast.metrics.history]


def test_a_checkpoint_resumes_only_on_its_own_engine():
    data = load_dataset(subset=512)
    state = resume_state(train(_spec("reference"), data, seed=0, epochs=1))
    with pytest.raises(CheckpointError, match="reference engine, the spec asks for fast"):
        train(_spec("fast"), data, seed=0, resume=state)


def test_bf16_runs_where_the_device_has_it_and_records_the_engine_it_ran(monkeypatch):
    data = load_dataset(subset=256)
    native = engine.native_bf16(torch.device("cpu"))
    ran = train(_spec("fast-bf16"), data, seed=0, epochs=1, eval_test=False).metrics.engine
    assert ran == ("fast-bf16" if native else "fast")
    monkeypatch.setattr(engine, "native_bf16", lambda device: False)  # a CPU without it: bf16 would be slower
    assert train(_spec("fast-bf16"), data, seed=0, epochs=1, eval_test=False).metrics.engine == "fast"


def test_bf16_autocast_computes_the_convolutions_in_bfloat16():
    with engine.autocast("fast-bf16", torch.device("cpu")):
        y = build("best_lean7k", seed=0)[0](torch.randn(2, 1, 28, 28))
    assert y.dtype == torch.bfloat16
    with engine.autocast("fast", torch.device("cpu")):
        assert build("best_lean7k", seed=0)[0](torch.randn(2, 1, 28, 28)).dtype == torch.float32
