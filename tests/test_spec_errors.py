"""Bad input gets one located line per problem and exit code 2, never a traceback."""
import pytest
from typer.testing import CliRunner

import budgetnet
from budgetnet.cli import app
from budgetnet.errors import SpecError

runner = CliRunner()
GOOD = "name: t\nlayers:\n  - conv: {out: 4, k: 3}\n  - relu\n  - gap\n  - flatten\n  - linear: 10\n"

CASES = [
    # (yaml text, expected substring of the located message)
    ("name: t\nlayers: [conv: {out: 4, k: 3}\n", "YAML error at line"),
    (GOOD.replace("relu", "relux"), "layers[1]: unknown op 'relux'; did you mean relu"),
    (GOOD.replace("out: 4", "out: four"), "layers[0].conv.out: Input should be a valid integer"),
    (GOOD.replace("out: 4", "out: -4"), "layers[0].conv.out: Input should be greater than 0"),
    (GOOD.replace("out: 4", "out: 0"), "layers[0].conv.out: Input should be greater than 0"),
    (GOOD.replace("k: 3", "k: 29"), "layers[0].conv.k: window 29"),
    (GOOD.replace("k: 3}", "k: 3, kernel: 2}"), "layers[0].conv.kernel: unknown field"),
    (GOOD.replace("{out: 4, k: 3}", "{k: 3}"), "layers[0].conv.out: Field required"),
    (GOOD.replace("name: t\n", ""), ":name: Field required"),
    ("classes: 10\n" + GOOD.replace("  - linear: 10\n", ""), "network output is [4], expected [10]"),
    (GOOD.replace("  - flatten\n  - linear: 10\n", ""), "network output is [4, 1, 1], expected [10] (classes); end with flatten"),
    ("name: t\nlayers:\n  - linear: 10\n", "layers[0].linear: linear needs a vector or tokens"),
    (GOOD + "train: {epochs: 0}\n", "train.epochs: Input should be greater than or equal to 1"),
    (GOOD + "budget: {max_params: many}\n", "budget.max_params: Input should be a valid integer"),
    (GOOD.replace("out: 4", "out: $width"), "unfilled placeholders: $width"),
    ("- just\n- a list\n", "expected a mapping at the top level"),
    ("", "empty file"),
    ("name: !!python/object/apply:os.system ['true']\nlayers: []\n", "YAML error"),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_library_error_is_located(write_yaml, text, expected):
    path = write_yaml(text)
    with pytest.raises(SpecError) as err:
        budgetnet.load_spec(path)
    assert expected in str(err.value)
    assert str(err.value).startswith(path)


@pytest.mark.parametrize("text,expected", CASES)
def test_cli_exit_2_and_one_line(write_yaml, text, expected):
    path = write_yaml(text)
    result = runner.invoke(app, ["summary", path])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 1 and all(line.startswith(f"error: {path}") for line in lines)
    assert any(expected in line for line in lines)


def test_real_entry_point_prints_no_traceback(write_yaml):
    import subprocess
    import sys
    path = write_yaml(GOOD.replace("relu", "relux"))
    proc = subprocess.run([sys.executable, "-m", "budgetnet", "summary", path], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {path}:layers[1]: unknown op 'relux'; did you mean relu, gelu?"


def test_all_errors_are_collected(write_yaml):
    text = GOOD.replace("out: 4", "out: -1").replace("relu", "relx") + "classes: zero\n"
    with pytest.raises(SpecError) as err:
        budgetnet.load_spec(write_yaml(text))
    locs = [i.loc for i in err.value.issues]
    assert ("classes",) in locs and ("layers", 0, "conv", "out") in locs and ("layers", 1) in locs


def test_missing_file_and_unknown_zoo_name():
    with pytest.raises(SpecError, match="file not found"):
        budgetnet.load_spec("no/such/net.yaml")
    with pytest.raises(SpecError, match="did you mean mnistnet3"):
        budgetnet.load_spec("mnistnet4")


def test_binary_garbage(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_bytes(bytes(range(256)))
    with pytest.raises(SpecError, match="not UTF-8"):
        budgetnet.load_spec(p)


def test_alias_bomb_is_rejected_quickly(write_yaml):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        bomb += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    with pytest.raises(SpecError):
        budgetnet.load_spec(write_yaml(bomb + "name: *h\nlayers: *h\n"))


def test_placeholders_are_filled_and_validated(write_yaml):
    path = write_yaml(GOOD.replace("out: 4", "out: $width"))
    assert budgetnet.count_params(budgetnet.load_spec(path, values={"width": 4})) == 4 * 9 + 4 * 10 + 10
    with pytest.raises(SpecError, match=r"layers\[0\]\.conv\.out: Input should be a valid integer"):
        budgetnet.load_spec(path, values={"width": 2.5})


def test_repeat_expands(write_yaml):
    text = GOOD.replace("  - relu\n", "  - repeat: {times: 3, layers: [relu, {conv: {out: 4, k: 1}}]}\n")
    spec = budgetnet.load_spec(write_yaml(text))
    assert [layer.op for layer in spec.layers][:7] == ["conv", "relu", "conv", "relu", "conv", "relu", "conv"]


def test_a_spec_without_classes_has_as_many_as_its_outputs():
    """Left out, `classes` is the network's output width (checked against the data where it trains)."""
    assert budgetnet.load_spec({"name": "t", "layers": [{"conv": {"out": 4}}, "gap", "flatten"]}).classes == 4
