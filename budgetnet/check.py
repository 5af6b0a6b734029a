"""The compliance checker: a spec (and optionally its checkpoint) against budget rules.

Rules come from the spec's own `budget:` section, a rules file, and keyword arguments / flags,
in increasing priority. Every limit is inclusive: `params <= max_params` complies.
A verdict is never inferred: parameters and MACs are counted from the spec, accuracy is
measured by evaluating the checkpoint on the test set.
"""
from __future__ import annotations

import glob
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from budgetnet.compile import summarize
from budgetnet.errors import BudgetnetError, RulesError, SpecError
from budgetnet.ops import OPS
from budgetnet.spec import Spec, load_spec, parse_yaml


class Rules(BaseModel):
    """Budget rules; None means "no limit". All limits are inclusive."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    max_params: Optional[PositiveInt] = None
    max_macs: Optional[PositiveInt] = None
    max_epochs: Optional[PositiveInt] = None
    min_accuracy: Optional[float] = Field(None, ge=0, le=1)
    require_ops: tuple[str, ...] = ()
    forbid_ops: tuple[str, ...] = ()
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
    if isinstance(raw.get("require_ops"), list):
        raw = {**raw, "require_ops": tuple(raw["require_ops"])}
    if isinstance(raw.get("forbid_ops"), list):
        raw = {**raw, "forbid_ops": tuple(raw["forbid_ops"])}
    try:
        rules = Rules.model_validate(raw)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulesError(f"{source}:{where}: {first['msg']}") from None
    unknown = sorted(set(rules.require_ops + rules.forbid_ops) - set(OPS))
    if unknown:
        raise RulesError(f"{source}: unknown op(s) in require_ops/forbid_ops: {', '.join(unknown)}")
    return rules


@dataclass(frozen=True)
class Verdict:
    rule: str
    limit: str
    actual: str
    status: str  # "pass", "fail" or "skipped"
    message: str

    @property
    def ok(self) -> bool:
        return self.status != "fail"


@dataclass
class FileResult:
    source: str
    name: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(v.ok for v in self.verdicts)

    @property
    def status(self) -> str:
        return "error" if self.error else ("complies" if self.ok else "violates")

    def to_dict(self) -> dict:
        return {"source": self.source, "name": self.name, "status": self.status, "ok": self.ok,
                "error": self.error, "verdicts": [{**asdict(v), "ok": v.ok} for v in self.verdicts]}


def _upper(rule: str, actual: int, limit: int | None, unit: str = "") -> Verdict | None:
    if limit is None:
        return None
    if actual <= limit:
        return Verdict(rule, f"<= {limit:,}", f"{actual:,}", "pass",
                       f"{actual:,} <= {limit:,}{unit} ({limit - actual:,} to spare)")
    return Verdict(rule, f"<= {limit:,}", f"{actual:,}", "fail",
                   f"{actual:,} > {limit:,}{unit}: over by {actual - limit:,}")


def evaluate_rules(spec: Spec, rules: Rules, weights: str | Path | None = None,
                   data_dir: str | None = None) -> list[Verdict]:
    s = summarize(spec)
    ops = {r.op for r in s.rows}
    out = [
        _upper("max_params", s.params, rules.max_params, " params"),
        _upper("max_macs", s.macs, rules.max_macs, " MACs"),
        _upper("max_epochs", spec.train.epochs, rules.max_epochs, " epochs"),
        _upper("max_fc_params", sum(r.params for r in s.rows if r.op == "linear"), rules.max_fc_params, " FC params"),
    ]
    for op in rules.require_ops:
        out.append(Verdict(f"require {op}", "present", "present" if op in ops else "absent",
                           "pass" if op in ops else "fail", f"{op} {'is' if op in ops else 'is not'} used"))
    for op in rules.forbid_ops:
        n = sum(r.op == op for r in s.rows)
        out.append(Verdict(f"forbid {op}", "absent", f"{n} used" if n else "absent", "fail" if n else "pass",
                           f"{op} used {n} time(s)" if n else f"{op} is not used"))
    if rules.min_rf is not None:
        ok = s.rf >= rules.min_rf
        out.append(Verdict("min_rf", f">= {rules.min_rf}", str(s.rf), "pass" if ok else "fail",
                           f"receptive field {s.rf} {'>=' if ok else '<'} {rules.min_rf}"))
    if rules.min_accuracy is not None:
        out.append(_accuracy(spec, rules.min_accuracy, weights, data_dir))
    return [v for v in out if v is not None]


def _accuracy(spec: Spec, minimum: float, weights, data_dir) -> Verdict:
    limit = f">= {100 * minimum:.2f}%"
    if weights is None:
        return Verdict("min_accuracy", limit, "-", "skipped", "not verified: no --weights checkpoint given")
    from budgetnet.runs import evaluate_checkpoint  # only now: evaluation needs the data

    acc = evaluate_checkpoint(weights, data_dir, expected=spec).test_acc
    ok = acc >= minimum
    return Verdict("min_accuracy", limit, f"{100 * acc:.2f}%", "pass" if ok else "fail",
                   f"test accuracy {100 * acc:.2f}% {'>=' if ok else '<'} {100 * minimum:.2f}%")


def check(x, *, weights: str | Path | None = None, rules: Rules | str | Path | None = None,
          data_dir: str | None = None, **limits) -> FileResult:
    """Check one spec (zoo name, path, mapping or Spec). Keyword limits (max_params=..., ...)
    override a rules file, which overrides the spec's own `budget:`. Invalid input raises."""
    spec = load_spec(x)
    if isinstance(rules, (str, Path)):
        rules = load_rules(rules)
    flags = rules_from({k: v for k, v in limits.items() if v not in (None, ())}, "arguments")
    effective = rules_from(spec.budget.model_dump(exclude_none=True), f"{spec.origin}:budget")
    effective = effective.merged(rules or Rules()).merged(flags)
    return FileResult(spec.origin, spec.name, evaluate_rules(spec, effective, weights, data_dir))


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
