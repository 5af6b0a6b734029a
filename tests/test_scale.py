"""`budgetnet scale`: a spec's widths filled to a budget, the layout and recipe kept."""
import pytest
from typer.testing import CliRunner

import budgetnet
from budgetnet.cli import app
from budgetnet.errors import SpecError
from budgetnet.model.scale import scale_to_budget
from budgetnet.spec.schema import load_spec

runner = CliRunner()


@pytest.mark.parametrize("budget", [2999, 3999, 5000, 12000])
def test_scaled_spec_fills_the_budget_and_keeps_layout_and_recipe(budget):
    base = load_spec("best_lean7k")
    scaled = scale_to_budget("best_lean7k", budget)
    params = budgetnet.count_params(scaled)
    assert 0.97 * budget <= params <= budget
    ops = lambda s: [layer.op for layer in s.layers]  # noqa: E731
    assert ops(scaled) == ops(base) and scaled.train == base.train
    assert scaled.layers[-2].args == base.layers[-2].args  # the classifier keeps the class count
    assert scaled.budget.max_params == budget


def test_scale_refuses_what_cannot_fit_and_grouped_convs(write_yaml):
    with pytest.raises(SpecError, match="even at width 1"):
        scale_to_budget("best_lean7k", 50)
    path = write_yaml("name: dw\nlayers: [{conv: {out: 8}}, {conv: {out: 8, groups: 8}}, gap, flatten, {linear: 10}]\n")
    with pytest.raises(SpecError, match=r"layers\[1\]\.conv\.groups"):
        scale_to_budget(path, 1000)


def test_scale_command_writes_the_spec(tmp_path):
    out = tmp_path / "s.yaml"
    result = runner.invoke(app, ["scale", "mnistnet3", "--max-params", "4000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert budgetnet.count_params(str(out)) <= 4000 and load_spec(str(out)).name == "mnistnet3_4000"
    bad = runner.invoke(app, ["scale", "mnistnet3", "--max-params", "10", "--out", str(tmp_path / "no.yaml")])
    assert bad.exit_code == 2 and not (tmp_path / "no.yaml").exists()
