"""Analytic accounting from the spec alone agrees with built models and with torchinfo."""
import torch
import torchinfo
from hypothesis import HealthCheck, given, settings

import budgetnet
from tests.strategies import any_specs, cnn_specs

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@FAST
@given(any_specs)
def test_param_count_equals_built_model(raw):
    spec = budgetnet.load_spec(raw)
    for backend in ("torch", "custom"):
        model = budgetnet.build(spec, backend=backend)
        assert budgetnet.count_params(spec) == sum(p.numel() for p in model.parameters())


@FAST
@given(any_specs)
def test_forward_matches_inferred_shapes(raw):
    spec = budgetnet.load_spec(raw)
    model = budgetnet.build(spec).eval()
    x = torch.randn(2, *spec.input)
    rows = budgetnet.summarize(spec).rows
    with torch.no_grad():
        for module, row in zip(model, rows):
            x = module(x)
            assert tuple(x.shape[1:]) == row.out_shape, (row.op, row.args)


@FAST
@given(cnn_specs())
def test_macs_agree_with_torchinfo_on_conv_and_linear(raw):
    spec = budgetnet.load_spec(raw)
    model = budgetnet.build(spec).eval()
    info = torchinfo.summary(model, input_size=(1, *spec.input), verbose=0)
    ours = sum(r.macs for r in budgetnet.summarize(spec).rows if r.op in ("conv", "linear"))
    theirs = sum(layer.macs for layer in info.summary_list
                 if type(layer.module).__name__ in ("Conv2d", "Linear"))
    assert ours == theirs


def test_receptive_field_of_mnistnet3():
    # 3x3 convs: 3, 5, 7; 1x1: 7; pool 2: 8 (jump 2); 3x3 convs: 12, 16; GAP covers the 7x7 map:
    # 16 + (7-1)*2 = 28
    rows = budgetnet.summarize("mnistnet3").rows
    assert [r.rf for r in rows if r.op in ("conv", "maxpool", "gap")] == [3, 5, 7, 7, 8, 12, 16, 28, 28]
