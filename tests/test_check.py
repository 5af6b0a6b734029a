"""The checker: verdicts, exit codes, soundness against built models, and fuzzed input."""
import json
import random

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

import budgetnet
from budgetnet.compliance.rules import check, check_many, exit_code
from budgetnet.cli import app
from budgetnet.spec.schema import ZOO_DIR, zoo_names
from tests.strategies import any_specs

runner = CliRunner()


def test_mnistnet1_over_8k_exits_1_and_says_by_how_much():
    result = runner.invoke(app, ["check", "mnistnet1", "--max-params", "8000"])
    assert result.exit_code == 1
    assert "8,620 > 8,000 params: over by 620" in result.output


def test_mnistnet3_under_7k_exits_0():
    result = runner.invoke(app, ["check", "mnistnet3", "--max-params", "7000"])
    assert result.exit_code == 0
    assert "6,560 <= 7,000 params (440 to spare)" in result.output


def test_limits_are_inclusive():
    assert check("mnistnet3", max_params=6560).ok
    assert not check("mnistnet3", max_params=6559).ok


def test_library_form_is_one_line():
    assert check("mnistnet3", max_params=7000, require_ops=("bn", "gap"), forbid_ops=("linear",)).ok
    assert budgetnet.check("mnistnet3", max_params=7000, require_ops=["bn"]).ok  # as the README writes it
    assert not budgetnet.check("mnistnet3", max_params=6000).ok


def test_rule_sources_and_priority(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("max_params: 6000\nrequire_ops: [bn]\nmin_rf: 20\n")
    r = check("mnistnet3", rules=rules)  # rules file (6000) beats the spec's budget (7000)
    assert not r.ok and [v.rule for v in r.verdicts if not v.ok] == ["max_params"]
    assert check("mnistnet3", rules=rules, max_params=7000).ok  # flags beat the rules file


def test_other_rules():
    r = check("cnn_003", max_macs=1_000_000, max_fc_params=1000, forbid_ops=("dropout",), min_rf=100)
    failed = {v.rule for v in r.verdicts if not v.ok}
    assert failed == {"max_macs", "max_fc_params", "forbid dropout", "min_rf"}
    assert not check("mnistnet1", require_ops=("gap",)).ok
    assert not check("mnistnet2", max_epochs=10).ok


def test_bad_rules_file_exits_2(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("max_parms: 10\n")
    result = runner.invoke(app, ["check", "mnistnet3", "--rules", str(rules)])
    assert result.exit_code == 2 and "max_parms" in result.stderr


def test_directory_and_json(tmp_path):
    result = runner.invoke(app, ["check", str(ZOO_DIR), "--max-params", "7000", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert len(report["files"]) == len(zoo_names())
    by_name = {f["name"]: f for f in report["files"]}
    assert by_name["mnistnet3"]["ok"] and not by_name["mnistnet2"]["ok"]


def test_json_and_record_verdicts_carry_numbers(tmp_path):
    """A CI script compares `actual` with `limit` as numbers, never by stripping commas and
    operators; the display text sits beside them."""
    record = tmp_path / "record.json"
    args = ["check", "mnistnet1", "--max-params", "8000", "--max-macs", "3000000", "--require-op", "relu", "--require-op", "bn",
            "--forbid-op", "linear", "--min-rf", "5", "--min-accuracy", "0.99", "--json", "--record", str(record)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    (report,) = json.loads(result.output)["files"]
    recorded = json.loads(record.read_text())["inputs"][0]["verdicts"]
    for verdicts in (report["verdicts"], recorded):
        by_rule = {v["rule"]: v for v in verdicts}
        assert by_rule["max_params"] | {"display": None} == {
            "rule": "max_params", "comparison": "<=", "limit": 8000, "actual": 8620, "unit": "params",
            "status": "fail", "ok": False, "message": "8,620 > 8,000 params: over by 620", "display": None}
        assert by_rule["max_params"]["display"] == {"limit": "<= 8,000", "actual": "8,620"}
        assert [by_rule[r]["actual"] for r in ("require relu", "require bn", "forbid linear")] == [8, 0, 0]
        assert by_rule["min_accuracy"]["limit"] == 0.99 and by_rule["min_accuracy"]["actual"] is None
        for v in (v for v in verdicts if v["status"] != "skipped"):
            ok = v["actual"] <= v["limit"] if v["comparison"] == "<=" else v["actual"] >= v["limit"]
            assert ok == (v["status"] == "pass"), v


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(any_specs, st.integers(1, 2_000))
def test_verdict_is_sound(raw, limit):
    """The verdict equals sum(p.numel()) <= limit computed from the built model, independently."""
    actual = sum(p.numel() for p in budgetnet.build(raw).parameters())
    assert check(raw, max_params=limit).ok == (actual <= limit)


# ----------------------------------------------------------------------------- fuzzing
def _mutations(rng: random.Random) -> list[bytes]:
    """Mutated zoo specs plus hostile inputs, as file contents."""
    bad_values = ["x", -1, 0, 10**30, 2.5, None, [], {}, True, "$hole", -10**12]
    out = []
    for name in zoo_names():
        base = yaml.safe_load((ZOO_DIR / f"{name}.yaml").read_text())
        for _ in range(12):
            raw = json.loads(json.dumps(base))
            kind = rng.choice(["value", "delete", "unknown", "layer_value", "layer_delete", "layer_op"])
            layers = raw["layers"]
            i = rng.randrange(len(layers))
            if kind == "value":
                raw[rng.choice(["name", "input", "classes", "backend", "init", "train", "budget"])] = rng.choice(bad_values)
            elif kind == "delete":
                raw.pop(rng.choice(list(raw)))
            elif kind == "unknown":
                raw[rng.choice(["lr", "layer", "epochs"])] = 1
            elif kind == "layer_value" and isinstance(layers[i], dict):
                (op, args), = layers[i].items()
                if isinstance(args, dict) and args:
                    args[rng.choice(list(args))] = rng.choice(bad_values)
                else:
                    layers[i] = {op: rng.choice(bad_values)}
            elif kind == "layer_delete":
                del layers[i]
            else:
                layers[i] = rng.choice(["conv", "lnear", 7, None, {"a": 1, "b": 2}, {"repeat": {"times": 10**6, "layers": ["relu"]}}])
            out.append(yaml.safe_dump(raw).encode())
    hostile = [
        b"", b"\x00\x01\x02\xff\xfe" * 50, b"name: x\nlayers: [relu\n", b"!!python/object/apply:os.system ['echo hi']\n",
        b"name: !!python/object/new:os.system [echo]\nlayers: []\n", b"- 1\n- 2\n", b"just a string\n",
        b"name: t\nlayers:\n" + b"  - relu\n" * 5000, b"{" * 5000, b"[" * 5000 + b"]" * 5000,
        b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nname: t\nlayers: *e\ntrain: *e\n",
        "name: ü\nlayers: [relu]\n".encode("utf-16"),
    ]
    return out + hostile


def test_fuzzed_inputs_never_crash(tmp_path):
    files = []
    for i, content in enumerate(_mutations(random.Random(1234))):
        p = tmp_path / f"m{i:03d}.yaml"
        p.write_bytes(content)
        files.append(str(p))
    results = check_many(files, max_params=7000)  # library: never raises on a bad file
    errors = sum(r.error is not None for r in results)
    assert 0 < errors < len(files)  # the fuzzer hits both valid and invalid inputs
    assert len(results) == len(files) and exit_code(results) == 2  # bad input wins over verdicts
    result = runner.invoke(app, ["check", *files, "--max-params", "7000"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and "Traceback" not in result.output
    for f in files:
        assert f in result.output, f"{f} not named in the output"
