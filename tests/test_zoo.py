"""Every shipped spec: exact parameter counts, forward passes on both backends."""
import pytest
import torch

import budgetnet
from budgetnet.model.compile import example_input
from budgetnet.spec.schema import zoo_names

# Each count is the arithmetic in the spec file's header comment.
EXPECTED_PARAMS = {
    # 72 + 1152 + 2304 + 128 + 576 + 576 + 1152 + 160 + 2500
    "mnistnet1": 8_620,
    # convs 72 + 1152 + 2304 + 128 + 1152 + 2304 + 160 = 7272, BN 2*(8+16+16+16+16) = 144
    "mnistnet2": 7_416,
    # convs 72 + 1152 + 2304 + 128 + 864 + 1728 + 160 = 6408, BN 2*(8+16+16+8+12+16) = 152
    "mnistnet3": 6_560,
    # (6*25+6) + (12*6*25+12) + (192*10+10)
    "cnn_002": 3_898,
    # 160 + 4640 + 18496 + (576*128+128) + (128*10+10)
    "cnn_001": 98_442,
    # (144+16) + 32 + (4608+32) + 64 + (1568*128+128) + 1290
    "cnn_000": 207_018,
    # 64 + 784*32 + 2*8544 + 64 + 330
    "transformer_000": 42_634,
    # (288+32)+64 + (18432+64)+128 + (73728+128)+256 + (294912+256) + (32768+128) + 1290
    "cnn_003": 422_474,
    # convs 1792+36928+73856+147584+295168+590080, BN 2*(64+64+128+128+256+256), FC 1180160+5130
    "deep_cnn_003": 2_331_338,
    # patch 16*128+128, cls 128, pos 50*128, 6 blocks * 198272, LN 256, head 1290
    "vit_003": 1_199_882,
    # convs 72 + 1296 + 1458 + 117 + 1638 + 1638 + 130 = 6349, BN 2*(8+18+9+14+13) = 124
    "best_under7k": 6_473,
    # convs 54 + 810 + 1485 + 88 + 936 + 1638 + 140 = 5151, BN 2*(6+15+11+13+14) = 118
    "under7k_trial31": 5_269,
    # convs 63 + 1071 + 136 + 1008 + 2142 + 2142 + 140 = 6702, BN 2*(7+17+14+17+14) = 138
    "best_lean7k": 6_840,
    # convs 63 + 756 + 48 + 396 + 1188 + 1296 + 120 = 3867, BN 2*(7+12+11+12+12) = 108
    "best_lean4k": 3_975,
    # convs 54 + 756 + 98 + 756 + 1512 + 1512 + 120 = 4808, BN 2*(6+14+12+14+12) = 116
    "best_5k": 4_924,
    # convs 45 + 450 + 50 + 450 + 900 + 900 + 100 = 2895, BN 2*(5+10+10+10+10) = 90
    "best_3k": 2_985,
    # convs 54 + 648 + 72 + 594 + 1188 + 1188 + 110 = 3854, BN 2*(6+12+11+12+11) = 104
    "best_4k": 3_958,
    # convs 36 + 288 + 1008 + 1134 + 1053 + 130 = 3649, BN 2*(4+8+14+9+13) = 96
    "best_unas": 3_745,
    # embed 28*32+32 = 928, positions 28*32 = 896, 2 blocks * 8544, LN 64, head 330
    "transformer_000_rows": 19_306,
    # embed 28*64+64 = 1856, sinusoidal positions 0, 2 blocks * 33472, LN 128, head (64*64+64) + (64*10+10)
    "transformer_001": 73_738,
    # embed 65*64 = 4160, positions 64*64 = 4096, 1 block 49984, LN 128, projection 64*65+65
    "transformer_002": 62_593,
}


def test_every_zoo_spec_has_an_expected_count():
    assert sorted(EXPECTED_PARAMS) == zoo_names()


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_param_count_is_exact(name):
    assert budgetnet.count_params(name) == EXPECTED_PARAMS[name]
    model = budgetnet.build(name)
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("backend", ["torch", "custom"])
@pytest.mark.parametrize("name", zoo_names())
def test_forward_shape(name, backend):
    model = budgetnet.build(name, backend=backend).eval()
    spec = model.spec
    with torch.no_grad():
        if spec.is_text:  # a text model: per position, one logit per symbol
            assert model(example_input(spec, 2)).shape == (2, spec.input[0], spec.vocab)
        else:
            assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("name", zoo_names())
def test_zoo_spec_cites_its_source(name):
    source = budgetnet.load_spec(name).source
    assert source.startswith(("seed 00", "search ", "frontier "))  # a seed document, a search, the frontier study


def test_mnistnet_structure_matches_004():
    ops = lambda n: [layer.op for layer in budgetnet.load_spec(n).layers]  # noqa: E731
    assert "bn" not in ops("mnistnet1") and "dropout" not in ops("mnistnet1")
    for name, p in (("mnistnet2", 0.05), ("mnistnet3", 0.01)):
        spec = budgetnet.load_spec(name)
        assert {layer.args.p for layer in spec.layers if layer.op == "dropout"} == {p}
        assert "gap" in ops(name) and "bn" in ops(name)
    assert ops("mnistnet3").count("bn") == ops("mnistnet2").count("bn") + 1  # "additional BatchNorm"
