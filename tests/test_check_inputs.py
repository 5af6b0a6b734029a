"""`budgetnet check` beyond specs: Python classes, state_dicts, safetensors; JUnit and GitHub
output; the audit record; user text printed verbatim and error output capped."""
import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

import budgetnet
from budgetnet.compliance.rules import check
from budgetnet.cli import app
from budgetnet.spec.schema import load_spec, zoo_names

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP_CKPT = ROOT / "reports" / "lean7k" / "confirm" / "seed1" / "checkpoint.pt"

EXPORTED = '''
import budgetnet
from torch import nn


class Exported(nn.Sequential):
    """A zoo model as a plain nn.Sequential class (same state_dict keys as budgetnet's Network)."""
    def __init__(self, name="mnistnet3"):
        super().__init__(*budgetnet.build(name))


class MnistNet3(nn.Module):
    """Seed 004's MnistNet_3 written by hand in plain PyTorch, as a team would have it."""
    def __init__(self):
        super().__init__()
        def block(i, o, k=3):
            return [nn.Conv2d(i, o, k, bias=False), nn.ReLU(), nn.BatchNorm2d(o)]
        self.features = nn.Sequential(
            *block(1, 8), nn.Dropout(0.01), *block(8, 16), nn.Dropout(0.01), *block(16, 16), nn.Dropout(0.01),
            *block(16, 8, 1), nn.MaxPool2d(2), *block(8, 12), nn.Dropout(0.01), *block(12, 16), nn.Dropout(0.01),
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 10, 1, bias=False), nn.Flatten())

    def forward(self, x):
        return self.features(x)
'''


@pytest.fixture(scope="module")
def netfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "nets.py"
    path.write_text(EXPORTED)
    return path


@pytest.mark.parametrize("name", [n for n in zoo_names() if not load_spec(n).is_text])  # classes take images
def test_a_zoo_model_as_a_class_a_state_dict_and_safetensors_counts_like_its_spec(name, netfile, tmp_path):
    spec = budgetnet.load_spec(name)
    s = budgetnet.summarize(spec)
    shape = ",".join(map(str, spec.input))
    as_class = check(f"{netfile}:Exported", kwargs={"name": name}, input_shape=spec.input, max_params=s.params)
    assert as_class.kind == "class" and as_class.ok
    facts = {v.rule: v.actual for v in check(f"{netfile}:Exported", kwargs={"name": name}, input_shape=spec.input,
                                             max_params=s.params, max_macs=s.macs).verdicts}
    assert facts == {"max_params": s.params, "max_macs": s.macs}
    state = budgetnet.build(spec).state_dict()
    torch.save(state, tmp_path / "w.pt")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    for path in (tmp_path / "w.pt", tmp_path / "w.safetensors"):
        r = check(str(path), max_params=s.params, max_macs=1)
        counted = {v.rule: (v.status, v.actual) for v in r.verdicts}
        assert counted["max_params"] == ("pass", s.params)  # BN running statistics are buffers
        assert counted["max_macs"][0] == "skipped"  # no architecture in a weights file: never passed
    result = runner.invoke(app, ["check", f"{netfile}:Exported", "--kwargs", json.dumps({"name": name}),
                                 "--input", shape, "--max-params", str(s.params - 1)])
    assert result.exit_code == 1 and f"{s.params:,} > {s.params - 1:,}" in result.output


def test_a_hand_written_class_counts_like_the_spec_with_receptive_field(netfile):
    s = budgetnet.summarize("mnistnet3")
    r = check(f"{netfile}:MnistNet3", max_params=s.params, max_macs=s.macs, min_rf=s.rf)
    assert r.ok and [v.actual for v in r.verdicts] == [s.params, s.macs, s.rf]


def test_a_transformer_class_has_no_receptive_field(netfile):
    r = check(f"{netfile}:Exported", kwargs={"name": "vit_003"}, min_rf=5)
    assert r.verdicts[0].status == "skipped" and "not a plain conv/pool stack" in r.verdicts[0].message


def test_min_accuracy_for_a_class_with_weights(netfile):
    expected = json.loads((FLAGSHIP_CKPT.parent.parent / "confirm.json").read_text())["seeds"][1]["test_acc"]
    r = check(f"{netfile}:Exported", kwargs={"name": "best_lean7k"}, weights=FLAGSHIP_CKPT, min_accuracy=0.994)
    assert r.ok and abs(r.verdicts[0].actual - expected) < 1e-6 and r.verdicts[0].actual_text == f"{100 * expected:.2f}%"
    wrong = runner.invoke(app, ["check", f"{netfile}:MnistNet3", "--weights", str(FLAGSHIP_CKPT), "--min-accuracy", "0.9"])
    assert wrong.exit_code == 2 and "do not match the class" in wrong.output


def test_bad_class_inputs_are_one_line_errors(netfile, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\nraise ValueError('boom')\n")
    for ref, words in ((f"{netfile}:Nope", "no nn.Module class 'Nope'"), (f"{broken}:Net", "importing"),
                       (f"{tmp_path}/missing.py:Net", "no such file")):
        result = runner.invoke(app, ["check", ref, "--max-params", "10"])
        assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output
    bad_kwargs = runner.invoke(app, ["check", f"{netfile}:Exported", "--kwargs", "{nope"])
    assert bad_kwargs.exit_code == 2 and "--kwargs: not JSON" in bad_kwargs.output


def _mixed(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nlayers: [{relux: 1}]\n")
    return ["mnistnet3", "mnistnet1", str(bad)]


def test_junit_output_parses_with_the_right_counts(tmp_path):
    result = runner.invoke(app, ["check", *_mixed(tmp_path), "--max-params", "8000", "--format", "junit"])
    assert result.exit_code == 2
    suites = ET.fromstring(result.output.split("\n", 1)[1] if result.output.startswith("<?xml") else result.output)
    suite = suites.find("testsuite")
    verdicts = json.loads(runner.invoke(app, ["check", *_mixed(tmp_path), "--max-params", "8000", "--json"]).output)
    cases = sum(len(f["verdicts"]) or 1 for f in verdicts["files"])  # a bad file is one case
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (str(cases), "1", "1")
    assert len(suite.findall("testcase")) == cases
    assert len(suite.findall("testcase/failure")) == 1 and len(suite.findall("testcase/error")) == 1
    assert int(suite.get("skipped")) == len(suite.findall("testcase/skipped")) >= 1  # min_accuracy without weights


GITHUB = re.compile(r"^::(error|warning|notice) file=[^,:]+(,title=[^:]*)?::.+$")


def test_github_annotations_match_the_workflow_command_syntax(tmp_path):
    result = runner.invoke(app, ["check", *_mixed(tmp_path), "--max-params", "8000", "--format", "github"])
    lines = result.output.splitlines()
    assert result.exit_code == 2 and len(lines) == 3
    assert all(GITHUB.match(line) for line in lines), lines
    assert sum(line.startswith("::error") for line in lines) == 2 and "over by 620" in result.output


def test_a_record_verifies_and_fails_after_a_one_byte_change(tmp_path):
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in budgetnet.build("mnistnet3").state_dict().items()}, str(weights))
    rec = tmp_path / "record.json"
    result = runner.invoke(app, ["check", "mnistnet3", str(weights), "--max-params", "7000", "--record", str(rec)])
    assert result.exit_code == 0, result.output
    data = json.loads(rec.read_text())
    assert {"utc", "versions", "inputs", "exit_code"} <= set(data) and data["versions"]["torch"] == torch.__version__
    item = data["inputs"][1]
    assert item["files"][0]["path"] == str(weights) and len(item["files"][0]["sha256"]) == 64
    assert data["inputs"][0]["rules"]["max_params"] == {"value": 7000, "from": "flags"}
    assert data["inputs"][0]["rules"]["min_accuracy"]["from"] == "spec budget"
    assert runner.invoke(app, ["check", "--verify-record", str(rec)]).exit_code == 0
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 1  # one byte of one weight
    weights.write_bytes(bytes(raw))
    again = runner.invoke(app, ["check", "--verify-record", str(rec)])
    assert again.exit_code == 1 and "CHANGED" in again.output and str(weights) in again.output


def test_user_text_is_printed_verbatim(tmp_path):
    path = tmp_path / "[red]a.yaml"
    path.write_text("name: '[bold]x :ok:'\nok: true\nlayers: [{conv: {out: 4, k: 3}}, gap, {conv: {out: 10, k: 1}}, flatten]\n")
    result = runner.invoke(app, ["check", str(path), "--max-params", "100"])
    assert result.exit_code == 2
    assert "[red]a.yaml" in result.output and "ok" in result.output
    assert "\U0001f197" not in result.output and "\U0001f44c" not in result.output  # no 🆗 / 👌
    path.write_text("name: '[bold]x :ok:'\nlayers: [{conv: {out: 4, k: 3}}, gap, {conv: {out: 10, k: 1}}, flatten]\n")
    ok = runner.invoke(app, ["check", str(path), "--max-params", "100"])
    assert "[bold]x :ok:" in ok.output and "[red]a.yaml" in ok.output


def test_errors_are_capped_at_ten_lines_per_file(tmp_path):
    path = tmp_path / "many.yaml"
    rows = ", ".join(f"{{bogus{i}: {'x' * 300}}}" for i in range(20))
    path.write_text(f"name: many\nlayers: [{rows}]\n")
    result = runner.invoke(app, ["check", str(path), "--max-params", "100"])
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert result.exit_code == 2 and len(errors) == 11 and errors[-1] == "ERROR ... and 10 more"
    assert all(len(line) <= 210 for line in errors)


def test_the_pre_commit_hook_runs_budgetnet_check():
    import yaml
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "budgetnet-check")
    assert hook["entry"] == "budgetnet check" and hook["language"] == "system"
    assert re.search(hook["files"], "models/net.yaml") and re.search(hook["files"], "w.safetensors")
