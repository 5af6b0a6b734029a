"""`budgetnet export`: ONNX and int8 ONNX proven on the test set before they are written, a
record that verifies, a one-line hint without the extra; `bench latency` reports its figures."""
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from budgetnet.cli import app

runner = CliRunner()
FLAGSHIP = Path(__file__).resolve().parent.parent / "reports" / "lean7k" / "confirm" / "seed1" / "checkpoint.pt"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "lean7k"
    result = runner.invoke(app, ["export", str(FLAGSHIP), "--out", str(out), "--int8", "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


@pytest.mark.integration
def test_fp32_and_int8_files_are_proven_on_the_whole_test_set(exported):
    out, r = exported
    assert (out / "model.onnx").is_file() and (out / "model_int8.onnx").is_file()
    assert r["fp32"]["max_abs_logit_diff"] < 1e-3 and r["fp32"]["prediction_agreement"] == 1.0
    assert r["fp32"]["test_acc"] == pytest.approx(r["torch_test_acc"]) == pytest.approx(0.9944)
    assert r["int8"]["test_acc"] >= 0.99 and r["int8"]["prediction_agreement"] >= 0.99
    assert r["int8"]["bytes"] == (out / "model_int8.onnx").stat().st_size and r["int8"]["calibration_images"] == 1000
    assert r["data"]["kind"] == "mnist" and r["notes"] and "records no data" in r["notes"][0]


@pytest.mark.integration
def test_the_export_record_verifies_and_catches_a_changed_file(exported, tmp_path):
    out, _ = exported
    ok = runner.invoke(app, ["check", "--verify-record", str(out / "export.json")])
    assert ok.exit_code == 0 and "SAME int8 test accuracy" in ok.output
    record = json.loads((out / "export.json").read_text())
    copy = tmp_path / "model_int8.onnx"
    copy.write_bytes((out / "model_int8.onnx").read_bytes() + b"\0")
    record["files"]["model_int8.onnx"]["path"] = str(copy)
    (tmp_path / "export.json").write_text(json.dumps(record))
    changed = runner.invoke(app, ["check", "--verify-record", str(tmp_path / "export.json")])
    assert changed.exit_code == 1 and "CHANGED model_int8.onnx" in changed.output


@pytest.mark.integration
def test_a_quantization_beyond_the_tolerance_is_refused_and_nothing_written(tmp_path):
    result = runner.invoke(app, ["export", str(FLAGSHIP), "--out", str(tmp_path / "e"), "--int8",
                                 "--max-disagreement", "0"])
    assert result.exit_code == 2 and "int8 quantization changes" in result.stderr and "not written" in result.stderr
    assert not (tmp_path / "e").exists()


def test_a_missing_runtime_is_a_one_line_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    result = runner.invoke(app, ["export", str(FLAGSHIP), "--out", str(tmp_path / "e")])
    assert result.exit_code == 2 and 'pip install -e ".[export]"' in result.stderr and "Traceback" not in result.output


@pytest.mark.integration
def test_bench_latency_reports_all_three(exported):
    out, _ = exported
    result = runner.invoke(app, ["bench", "latency", str(FLAGSHIP), "--exported", str(out), "--runs", "5", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert r["threads"] == 1 and all(r[k] > 0 for k in ("torch_eager_ms", "onnxruntime_fp32_ms", "onnxruntime_int8_ms"))
