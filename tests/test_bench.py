"""The benchmarks run and report their figures (speed itself is never asserted: see the README)."""
import json

import pytest

from typer.testing import CliRunner

from budgetnet.cli import app

runner = CliRunner()


def test_bench_train_reports_a_ratio():
    result = runner.invoke(app, ["bench", "train", "--images", "512", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert r["engine_images_per_s"] > 0 and r["naive_images_per_s"] > 0 and r["ratio"] > 0


@pytest.mark.integration
def test_bench_target_reports_seconds_accuracy_and_verdict(tmp_path):
    result = runner.invoke(app, ["bench", "target", "cnn_002", "--seed", "0", "--seed", "1", "--subset", "512",
                                 "--limit", "1000", "--accuracy", "0.0", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert [row["seed"] for row in r["seeds"]] == [0, 1] and r["train_images"] == 512
    assert r["samples"] == 512 * r["epochs"]
    assert all(row["seconds"] > 0 and 0 < row["test_acc"] <= 1 for row in r["seeds"])
    assert r["reached"] is (r["median_seconds"] <= 1000)  # accuracy 0.0 is always met
    strict = runner.invoke(app, ["bench", "target", "cnn_002", "--seed", "0", "--subset", "512", "--accuracy", "1.0"])
    assert strict.exit_code == 0 and "not reached" in strict.output


def test_bench_backends_reports_time_and_memory_of_both(tmp_path):
    spec = tmp_path / "tiny_vit.yaml"
    spec.write_text("name: tiny_vit\nlayers:\n  - patch_embed: {size: 7, dim: 8}\n  - pos_embed\n"
                    "  - encoder: {heads: 2}\n  - token_pool: mean\n  - linear: 10\n")
    result = runner.invoke(app, ["bench", "backends", "--spec", str(spec), "--batch", "4", "--seconds", "0.1", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert r["custom_fwdbwd_ms"] > 0 and r["torch_fwdbwd_ms"] > 0 and r["custom_vs_torch_fwdbwd"] > 0
    assert r["custom_saved_bytes"] > 0 and r["torch_saved_bytes"] > 0 and r["batch"] == 4
    text = runner.invoke(app, ["bench", "backends", "--spec", str(spec), "--batch", "4", "--seconds", "0.1"])
    assert text.exit_code == 0 and "goal: within 3x" in text.output


def test_bench_step_times_the_engines_against_plain_pytorch_and_profiles_them(tmp_path):
    out = tmp_path / "step.json"
    r = runner.invoke(app, ["bench", "step", "--spec", "best_lean7k", "--variant", "fast", "--variant", "reference",
                            "--rounds", "1", "--steps", "1", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert json.loads(out.read_text()) == res
    rows = {v["variant"]: v for v in res["variants"]}
    assert list(rows) == ["plain", "fast", "reference"] and res["threads"] == 1
    assert rows["plain"]["vs_plain"] == 1.0 and all(v["images_per_s"] > 0 and v["gflops"] > 0 for v in rows.values())
    assert res["macs_per_image"] == 994_208 and res["gemm_gflops"] > 0 and res["cpu"]["torch_capability"]
    for name in ("plain", "fast"):
        shares = res["profiles"][name]
        assert abs(sum(shares.values()) - 1) < 0.01 and shares["conv backward"] > 0.05 and shares["dropout"] > 0
    assert res["profiles"]["fast"]["augmentation"] > 0 and res["profiles"]["plain"]["augmentation"] == 0


def test_bench_step_refuses_an_unknown_variant_and_a_text_model():
    r = runner.invoke(app, ["bench", "step", "--variant", "eager"])
    assert r.exit_code == 2 and "unknown eager" in r.output
    r = runner.invoke(app, ["bench", "step", "--spec", "transformer_002"])
    assert r.exit_code == 2 and "reads text" in r.output
