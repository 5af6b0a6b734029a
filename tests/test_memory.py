"""Deployment accounting from the spec alone: weight bytes (int8, fp32) and peak activation
memory, equal to what hooks measure on the built network; the byte rules in `check`."""
import json

import pytest
from typer.testing import CliRunner

import budgetnet
from budgetnet.cli import app
from budgetnet.compliance.modelcount import count_module
from budgetnet.compliance.rules import check
from budgetnet.model.memory import memory
from budgetnet.spec.schema import load_spec, zoo_names

runner = CliRunner()
CNNS = [n for n in zoo_names() if not any(layer.op in ("encoder", "patch_embed", "pixel_tokens")
                                          for layer in load_spec(n).layers)]


@pytest.mark.parametrize("name", CNNS)
def test_analytic_peak_and_int8_bytes_equal_the_hook_measured_ones(name):
    spec = load_spec(name)
    m = memory(spec)
    c = count_module(budgetnet.build(spec), tuple(spec.input))
    assert m.peak_elements == c.peak_elements and m.int8_weight_bytes == c.int8_weight_bytes
    assert m.fp32_weight_bytes == 4 * c.params


def test_a_small_cnn_counted_by_hand():
    """conv 1->4 k3 (36 weights), relu, bn (folds? no: after relu), maxpool, conv 4->10 k1 + bn (folds), gap, flatten."""
    spec = load_spec({"name": "t", "input": [1, 8, 8], "layers": [
        {"conv": {"out": 4}}, "relu", "bn", {"maxpool": 2}, {"conv": {"out": 10, "k": 1}}, "bn", "gap", "flatten"]})
    m = memory(spec)
    # activations: input 64; conv out 4x6x6 = 144; pool out 4x3x3 = 36; 1x1 out 90; gap out 10
    assert [r.live_elements for r in m.rows] == [64 + 144, 144, 144, 144 + 36, 36 + 90, 90, 90 + 10, 10]
    assert m.peak_elements == 208 and m.peak_row == 0 and m.peak_bytes("fp32") == 4 * 208
    assert m.peak_bytes(exclude_input=True) == 180  # uNAS: the first row's input is not counted
    # int8: conv1 36 + 4 x (scale 4 + zero point 1); bn after relu: 8 floats x 4 B; conv2 40 + 10 x (4 + 1 + bias 4)
    assert m.int8_weight_bytes == (36 + 4 * 5) + 8 * 4 + (40 + 10 * 9)
    assert m.fp32_weight_bytes == 4 * budgetnet.count_params(spec)


def test_an_encoder_holds_its_residual_and_the_scores():
    spec = load_spec({"name": "v", "input": [1, 8, 8], "layers": [
        {"patch_embed": {"size": 4, "dim": 8}}, "pos_embed", {"encoder": {"heads": 2}}, "token_pool", {"linear": 10}]})
    m = memory(spec)
    t, d, hidden = 4, 8, 32
    assert m.rows[2].live_elements == max(5 * t * d, 4 * t * d + 2 * t * t, 3 * t * d + 2 * t * t, 2 * t * d + t * hidden)


def test_summary_json_carries_bytes_as_numbers():
    result = runner.invoke(app, ["summary", "best_lean7k", "--json"])
    s = json.loads(result.output)
    assert s["peak_activation_bytes_int8"] == 14_524 and s["fp32_weight_bytes"] == 4 * 6_840
    assert isinstance(s["int8_weight_bytes"], int) and s["layers"][4]["live_elements"] == 14_524
    text = runner.invoke(app, ["summary", "best_lean7k"]).output
    assert "<- peak" in text and "uNAS convention" in text


def test_byte_rules_name_the_peak_layer_and_follow_dtype():
    r = check("best_lean7k", max_model_bytes=8000, max_peak_activation_bytes=14_524)
    assert r.ok
    r = check("best_lean7k", max_peak_activation_bytes=2_500)
    (v,) = [v for v in r.verdicts if v.rule == "max_peak_activation_bytes"]
    assert v.status == "fail" and v.actual == 14_524 and "peak at layers[4] (conv)" in v.message
    r = check("best_lean7k", max_model_bytes=27_360, dtype="fp32")
    (v,) = [v for v in r.verdicts if v.rule == "max_model_bytes"]
    assert v.status == "pass" and v.actual == 27_360
    cli = runner.invoke(app, ["check", "best_lean7k", "--max-model-bytes", "4500", "--max-peak-activation-bytes",
                              "2500", "--json"])
    assert cli.exit_code == 1
    verdicts = {v["rule"]: v for v in json.loads(cli.output)["files"][0]["verdicts"]}
    assert verdicts["max_model_bytes"]["actual"] == 7_689 and verdicts["max_model_bytes"]["limit"] == 4_500


def test_a_class_checked_by_hooks_gets_the_same_bytes(tmp_path):
    net = tmp_path / "net.py"
    net.write_text("import torch.nn as nn\nclass Net(nn.Sequential):\n    def __init__(self):\n"
                   "        super().__init__(nn.Conv2d(1, 4, 3, bias=False), nn.ReLU(), nn.BatchNorm2d(4), nn.MaxPool2d(2),\n"
                   "                         nn.Conv2d(4, 10, 1, bias=False), nn.BatchNorm2d(10), nn.AdaptiveAvgPool2d(1),\n"
                   "                         nn.Flatten())\n")
    r = check(f"{net}:Net", input_shape=(1, 8, 8), max_model_bytes=10_000, max_peak_activation_bytes=10_000)
    got = {v.rule: v.actual for v in r.verdicts}
    assert got == {"max_model_bytes": (36 + 4 * 5) + 8 * 4 + (40 + 10 * 9), "max_peak_activation_bytes": 208}
