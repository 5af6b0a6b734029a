"""The compliance checker: a spec (and optionally its checkpoint) against budget rules.

Rules come from the spec's own `budget:` section, a rules file, and keyword arguments / flags,
in increasing priority. Every limit is inclusive: `params <= max_params` complies.
A verdict is never inferred: parameters and MACs are counted from the spec, accuracy is
measured by evaluating the checkpoint on the test set.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Optional

import torch

from pydantic import Field, PositiveInt, StrictStr, ValidationError

from budgetnet.errors import BudgetnetError, CheckpointError, DataError, RulesError, SpecError, pydantic_issues
from budgetnet.compliance.inputs import Facts
from budgetnet.spec.ops import OPS
from budgetnet.spec.schema import Budget, load_spec, parse_yaml


class Rules(Budget):
    """Budget rules: a spec's `budget:` fields and the rules only a checker applies; None means
    "no limit". All limits are inclusive."""
    require_ops: tuple[StrictStr, ...] = Field((), strict=False)  # a YAML list or a tuple; the names strict
    forbid_ops: tuple[StrictStr, ...] = Field((), strict=False)
    max_fc_params: Optional[int] = Field(None, ge=0)  # parameters in linear layers
    min_rf: Optional[PositiveInt] = None              # receptive field at the classifier

    def merged(self, override: "Rules") -> "Rules":
        return self.model_copy(update=override.model_dump(exclude_defaults=True))


def load_rules(path: str | Path) -> Rules:
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise RulesError(f"{path}: cannot read rules file ({getattr(e, 'strerror', None) or e})") from None
    try:
        raw = parse_yaml(text, str(path))
    except SpecError as e:
        raise RulesError(str(e)) from None
    return rules_from(raw, str(path))


def rules_from(raw: dict, source: str) -> Rules:
    try:
        rules = Rules.model_validate(raw)
    except ValidationError as e:
        raise RulesError("\n".join(i.line(source) for i in pydantic_issues(e))) from None
    unknown = sorted(set(rules.require_ops + rules.forbid_ops) - set(OPS))
    if unknown:
        raise RulesError(f"{source}: unknown op(s) in require_ops/forbid_ops: {', '.join(unknown)}")
    return rules


class VerdictStatus(str, Enum):
    """A rule's verdict on one input (written into JSON, JUnit and records as its string)."""
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"  # the rule cannot be verified for this input: never counted as passed

    __str__ = str.__str__


@dataclass(frozen=True)
class Verdict:
    """One rule's verdict. `limit` and `actual` are numbers (None where unknown: a skipped rule);
    `comparison` says how they compare when the rule passes (`actual <= limit` or `actual >= limit`).
    Op rules count uses: require is `uses >= 1`, forbid is `uses <= 0`. Accuracy is a fraction."""
    rule: str
    comparison: str  # "<=" or ">="
    limit: int | float
    actual: int | float | None
    status: VerdictStatus
    message: str
    unit: str = ""

    @property
    def ok(self) -> bool:
        return self.status != VerdictStatus.FAIL

    @property
    def limit_text(self) -> str:
        return f"{self.comparison} {_display(self.limit, self.unit)}"

    @property
    def actual_text(self) -> str:
        return "-" if self.actual is None else _display(self.actual, self.unit)

    def to_dict(self) -> dict:
        """Numbers as numbers for scripts; the display strings beside them for people."""
        return {"rule": self.rule, "comparison": self.comparison, "limit": self.limit, "actual": self.actual,
                "unit": self.unit, "status": self.status, "ok": self.ok, "message": self.message,
                "display": {"limit": self.limit_text, "actual": self.actual_text}}


def _display(value: int | float, unit: str) -> str:
    return f"{100 * value:.2f}%" if unit == "accuracy" else f"{value:,}"


@dataclass
class FileResult:
    source: str
    name: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None
    input: str | None = None                                  # the input as given (re-checked from a record)
    kind: str | None = None                                   # spec | class | checkpoint | state_dict | safetensors
    rules: Rules | None = None                                # the effective rules
    rule_origin: dict[str, str] = field(default_factory=dict)  # rule -> spec budget | rules file | flags
    files: list[str] = field(default_factory=list)            # every file the verdicts depend on

    @property
    def ok(self) -> bool:
        return self.error is None and all(v.ok for v in self.verdicts)

    @property
    def status(self) -> str:
        return "error" if self.error else ("complies" if self.ok else "violates")

    def to_dict(self) -> dict:
        return {"source": self.source, "name": self.name, "status": self.status, "ok": self.ok,
                "error": self.error, "verdicts": [v.to_dict() for v in self.verdicts]}

    @property
    def error_lines(self) -> list[str]:
        """The error, at most MAX_ERROR_LINES lines of at most MAX_LINE characters."""
        lines = [shorten(line) for line in (self.error or "").splitlines()]
        if len(lines) > MAX_ERROR_LINES:
            lines = lines[:MAX_ERROR_LINES] + [f"... and {len(lines) - MAX_ERROR_LINES} more"]
        return lines


MAX_ERROR_LINES = 10
MAX_LINE = 200


def shorten(line: str) -> str:
    line = " ".join(line.split())  # one line, whatever the value held
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


def _upper(rule: str, actual: int | None, limit: int | None, unit: str = "", kind: str = "") -> Verdict | None:
    if limit is None:
        return None
    if actual is None:
        return _unknown(rule, "<=", limit, kind, unit)
    if actual <= limit:
        return Verdict(rule, "<=", limit, actual, VerdictStatus.PASS,
                       f"{actual:,} <= {limit:,} {unit} ({limit - actual:,} to spare)", unit)
    return Verdict(rule, "<=", limit, actual, VerdictStatus.FAIL, f"{actual:,} > {limit:,} {unit}: over by {actual - limit:,}", unit)


def _unknown(rule: str, comparison: str, limit, kind: str, unit: str = "") -> Verdict:
    return Verdict(rule, comparison, limit, None, VerdictStatus.SKIPPED, f"{rule} not verified: unknown for a {kind} input", unit)


def _peak(f: Facts, rules: Rules) -> Verdict | None:
    """Peak activation memory against its limit, naming the layer that sets the peak."""
    v = _upper("max_peak_activation_bytes", f.peak_bytes and f.peak_bytes[rules.dtype],
               rules.max_peak_activation_bytes, f"{rules.dtype} activation bytes", f.kind)
    if v is None or v.actual is None:
        return v
    return Verdict(v.rule, v.comparison, v.limit, v.actual, v.status, f"{v.message} (peak at {f.peak_at})", v.unit)


def evaluate_facts(f: Facts, rules: Rules, weights: str | Path | None = None, data: str | None = None) -> list[Verdict]:
    out = [
        _upper("max_params", f.params, rules.max_params, "params", f.kind),
        _upper("max_macs", f.macs, rules.max_macs, "MACs", f.kind),
        _upper("max_epochs", f.epochs, rules.max_epochs, "epochs", f.kind),
        _upper("max_fc_params", f.fc_params, rules.max_fc_params, "FC params", f.kind),
        _upper("max_model_bytes", f.model_bytes and f.model_bytes[rules.dtype], rules.max_model_bytes,
               f"{rules.dtype} weight bytes", f.kind),
        _peak(f, rules),
    ]
    op_rules = ([(f"require {op}", ">=", 1, op) for op in rules.require_ops] +
                [(f"forbid {op}", "<=", 0, op) for op in rules.forbid_ops])
    for rule, comparison, limit, op in op_rules:  # uses of the op, counted against 1 or 0
        if f.ops is None:
            out.append(_unknown(rule, comparison, limit, f.kind, "uses"))
            continue
        n = f.ops[op]
        ok = n >= limit if comparison == ">=" else n <= limit
        out.append(Verdict(rule, comparison, limit, n, VerdictStatus.PASS if ok else VerdictStatus.FAIL,
                           f"{op} used {n} time(s)" if n else f"{op} is not used", "uses"))
    if rules.min_rf is not None:
        if f.rf is None:
            out.append(_unknown("min_rf", ">=", rules.min_rf, f"{f.kind} (not a plain conv/pool stack)"
                                if f.kind == "class" else f.kind, "pixels"))
        else:
            ok = f.rf >= rules.min_rf
            out.append(Verdict("min_rf", ">=", rules.min_rf, f.rf, VerdictStatus.PASS if ok else VerdictStatus.FAIL,
                               f"receptive field {f.rf} {'>=' if ok else '<'} {rules.min_rf}", "pixels"))
    if rules.min_accuracy is not None:
        out.append(_accuracy(f, rules.min_accuracy, weights, data))
    return [v for v in out if v is not None]


def _accuracy(f: Facts, minimum: float, weights, data) -> Verdict:
    if weights is None and f.kind == "checkpoint":
        weights = f.files[0]  # a checkpoint is its own weights
    if weights is None:
        return Verdict("min_accuracy", ">=", minimum, None, VerdictStatus.SKIPPED, "not verified: no --weights checkpoint given",
                       "accuracy")
    if f.kind in ("spec", "checkpoint"):
        from budgetnet.training.runs import evaluate_checkpoint  # only now: evaluation needs the data
        if f.spec is not None and f.spec.is_text:
            raise RulesError(f"{f.files[0]}: min_accuracy is for image classifiers; {f.spec.name} is a text model "
                             "(budgetnet eval gives its bits per character)")
        report = evaluate_checkpoint(weights, data, expected=f.spec)
        acc, on, notes = report.test_acc, report.data["name"], report.notes
    elif f.kind == "class":
        acc, on = _class_accuracy(f, weights, data)
        notes = ()
    else:
        return Verdict("min_accuracy", ">=", minimum, None, VerdictStatus.SKIPPED,
                       f"not verified: a {f.kind} file has no architecture", "accuracy")
    ok = acc >= minimum
    note = f" ({notes[0]})" if notes else ""
    return Verdict("min_accuracy", ">=", minimum, round(acc, 6), VerdictStatus.PASS if ok else VerdictStatus.FAIL,
                   f"test accuracy {100 * acc:.2f}% {'>=' if ok else '<'} {100 * minimum:.2f}% on {on}{note}", "accuracy")


def _class_accuracy(f: Facts, weights, data) -> tuple[float, str]:
    """Load `weights` (checkpoint, state_dict or safetensors) into the class and score the test set
    of `data` (default: the embedded MNIST), normalized as budgetnet trains (the training split's
    mean and std); a class counted on another input shape than the data's is refused."""
    from budgetnet.data.datasets import load_dataset
    from budgetnet.compliance.inputs import read_tensors
    from budgetnet.training.loop import accuracy

    model = f.model
    _, tensors, _ = read_tensors(weights)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{weights}: weights do not match the class: {str(e).splitlines()[0][:160]}") from None
    dataset = load_dataset(data)
    if list(f.input_shape) != dataset.shape:
        raise DataError(f"{f.files[0]}: the class is checked on input {list(f.input_shape)} (--input) but "
                        f"{dataset.name} has images {dataset.shape}")
    with torch.no_grad():
        return accuracy(model, dataset.test, dataset.mean, dataset.std), dataset.name


def effective_rules(facts: Facts, rules: Rules | None, flags: Rules) -> tuple[Rules, dict[str, str]]:
    """Merge the spec's own budget (spec and checkpoint inputs), the rules file and the flags, in
    increasing priority; also say where each rule came from."""
    layers = []
    if facts.spec is not None:
        layers.append((rules_from(facts.spec.budget.model_dump(exclude_defaults=True), f"{facts.spec.origin}:budget"),
                       "spec budget"))
    layers += [(rules or Rules(), "rules file"), (flags, "flags")]
    merged, origin = Rules(), {}
    for layer, where in layers:
        merged = merged.merged(layer)
        origin.update({k: where for k in layer.model_dump(exclude_defaults=True)})
    return merged, origin


def check(x, *, weights: str | Path | None = None, rules: Rules | str | Path | None = None,
          data: str | None = None, input_shape: tuple[int, ...] = (1, 28, 28), kwargs: dict | None = None,
          **limits) -> FileResult:
    """Check one input: a spec (zoo name, path, mapping or Spec), `file.py:Class`, or a weights
    file (.pt / .pth / .safetensors). Keyword limits (max_params=..., ...) override a rules file,
    which overrides a spec's own `budget:`. Invalid input raises."""
    from budgetnet.compliance.inputs import class_facts, is_class_ref, is_weights, spec_facts, weights_facts

    if isinstance(x, str) and is_class_ref(x):
        facts = class_facts(x, input_shape, kwargs)
    elif isinstance(x, (str, Path)) and is_weights(str(x)):
        facts = weights_facts(str(x))
    else:
        facts = spec_facts(load_spec(x))
    if isinstance(rules, (str, Path)):
        rules = load_rules(rules)
    flags = rules_from({k: v for k, v in limits.items() if v not in (None, ())}, "arguments")
    effective, origin = effective_rules(facts, rules, flags)
    source = facts.spec.origin if facts.kind == "spec" else str(x)
    result = FileResult(source, facts.name, evaluate_facts(facts, effective, weights, data))
    result.input, result.kind, result.rules, result.rule_origin = str(x), facts.kind, effective, origin
    result.files = facts.files + ([str(weights)] if weights is not None else [])
    return result


def expand_inputs(items: list[str]) -> list[str]:
    """Files, directories (their *.yaml / *.yml, recursively), globs and zoo names."""
    out: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            out += found or [item]  # an empty directory is reported as an error, not ignored
        elif any(c in item for c in "*?[") and not path.exists():
            out += sorted(glob.glob(item, recursive=True)) or [item]
        else:
            out.append(item)
    return out


def check_many(items: list[str], **kwargs) -> list[FileResult]:
    """Check every input; a bad one is reported by name and the others are still checked."""
    results = []
    for item in expand_inputs(items):
        try:
            results.append(check(item, **kwargs))
        except RulesError:
            raise  # the rules, not the file, are wrong: nothing can be checked
        except BudgetnetError as e:
            results.append(FileResult(item, error=str(e) or type(e).__name__))
        except (RecursionError, MemoryError) as e:
            results.append(FileResult(item, error=f"{item}: input too large or too deeply nested ({type(e).__name__})"))
    return results


def exit_code(results: list[FileResult]) -> int:
    if any(r.error for r in results) or not results:
        return 2
    return 0 if all(r.ok for r in results) else 1
