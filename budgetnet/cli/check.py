"""`budgetnet check`: the verdict CI gates on."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text

from budgetnet.compliance.rules import VerdictStatus, check_many, exit_code, load_rules
from budgetnet.errors import UsageError
from budgetnet.cli.common import DATA_HELP, console, data_option, print_json

STATUS_STYLE = {VerdictStatus.PASS: "green", VerdictStatus.FAIL: "bold red", VerdictStatus.SKIPPED: "yellow"}


class Format(str, Enum):
    text = "text"
    json = "json"
    junit = "junit"     # JUnit XML
    github = "github"   # workflow annotations


class Dtype(str, Enum):
    int8 = "int8"
    fp32 = "fp32"


def _is_export_record(path: Path) -> bool:
    import json
    try:
        return json.loads(path.read_text()).get("format", "").startswith("budgetnet-export/")
    except (OSError, ValueError, AttributeError):
        return False


def check(specs: List[str] = typer.Argument(None, help="Spec files, directories, globs, zoo names, path/net.py:Class, or weights (.pt, .pth, .safetensors)."),
          max_params: Optional[int] = typer.Option(None, min=1, help="Inclusive: params <= N complies."),
          max_macs: Optional[int] = typer.Option(None, min=1, help="Inclusive: MACs per image <= N complies."),
          max_epochs: Optional[int] = typer.Option(None, min=1, help="Inclusive: the recipe's epochs <= N."),
          min_accuracy: Optional[float] = typer.Option(None, min=0, max=1, help="Inclusive: test accuracy >= A (0-1), measured on --weights."),
          weights: Optional[Path] = typer.Option(None, help="Checkpoint to evaluate for --min-accuracy (one spec only)."),
          require_op: List[str] = typer.Option([], "--require-op", help="An op that must be used (repeatable)."),
          forbid_op: List[str] = typer.Option([], "--forbid-op", help="An op that must not be used (repeatable)."),
          max_fc_params: Optional[int] = typer.Option(None, min=0, help="Inclusive: parameters in linear layers <= N."),
          min_rf: Optional[int] = typer.Option(None, min=1, help="Inclusive: receptive field at the classifier >= N."),
          max_model_bytes: Optional[int] = typer.Option(None, min=1, help="Inclusive: bytes of the weights (int8 unless --dtype fp32; batch norm folded, per-channel scales counted) <= B."),
          max_peak_activation_bytes: Optional[int] = typer.Option(None, min=1, help="Inclusive: bytes of the activations alive at once at batch 1, the network input counted (int8 unless --dtype fp32) <= B."),
          dtype: Optional[Dtype] = typer.Option(None, help="int8 (default) or fp32: what the byte limits count."),
          rules: Optional[Path] = typer.Option(None, help="YAML file of rules (same names as these flags, snake_case)."),
          data: Optional[str] = data_option("Data for --min-accuracy; default: the data a checkpoint records (other data is refused by fingerprint), the embedded MNIST for a Python class. " + DATA_HELP.split(": ", 1)[1]),
          input_shape: str = typer.Option("1,28,28", "--input", help="C,H,W of the zero image a Python class is counted on."),
          kwargs: Optional[str] = typer.Option(None, help="JSON object of constructor arguments for a Python class."),
          output: Format = typer.Option(Format.text, "--format", help="text, json, junit (JUnit XML) or github (workflow annotations)."),
          as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
          record: Optional[Path] = typer.Option(None, help="Write an audit record (JSON): sha256 of every input file, effective rules and their origin, verdicts, versions, UTC time."),
          verify_record: Optional[Path] = typer.Option(None, help="Re-check a record: the files still hash the same and the verdicts still hold.")):
    """Check models against budget rules: specs, Python classes (path/net.py:Class) and weights
    files. Rules: a spec's own `budget:`, then --rules, then flags (flags win). Every limit is
    inclusive. Exit 0: all comply; 1: any violates; 2: bad input (unreadable or invalid input,
    bad rules, weights that do not match); bad input wins over violations."""
    from budgetnet.compliance.report import github_annotations, junit_xml, verify_record as verify
    from budgetnet.compliance.report import record as make_record, write_record
    from budgetnet.compliance.inputs import parse_input_shape, parse_kwargs

    if verify_record is not None:
        if _is_export_record(verify_record):
            from budgetnet.export.onnx import verify as verify_export
            code, lines = verify_export(verify_record)
        else:
            code, lines = verify(verify_record)
        for line in lines:
            console.print(line, markup=False)
        console.print(f"record {verify_record}: {'verified' if code == 0 else 'does not verify'} -> exit {code}",
                      markup=False)
        raise typer.Exit(code)
    output = "json" if as_json else output.value
    if not specs or (weights is not None and len(specs) != 1):
        raise UsageError("give at least one input (or --verify-record FILE)" if not specs else
                         "--weights checks one input; give exactly one")
    shape, ctor = parse_input_shape(input_shape), parse_kwargs(kwargs)
    file_rules = load_rules(rules) if rules else None
    flags = dict(max_params=max_params, max_macs=max_macs, max_epochs=max_epochs, min_accuracy=min_accuracy,
                 require_ops=tuple(require_op), forbid_ops=tuple(forbid_op), max_fc_params=max_fc_params,
                 min_rf=min_rf, max_model_bytes=max_model_bytes,
                 max_peak_activation_bytes=max_peak_activation_bytes, dtype=dtype.value if dtype else None)
    results = check_many(specs, weights=weights, rules=file_rules, data=data, input_shape=shape,
                         kwargs=ctor, **flags)
    code = exit_code(results)
    if record is not None:
        options = {"weights": str(weights) if weights else None, "data": str(data) if data else None,
                   "input_shape": list(shape), "kwargs": ctor, "rules_file": str(rules) if rules else None}
        write_record(record, make_record(results, code, options))
    if output == "junit":
        print(junit_xml(results), end="")
        raise typer.Exit(code)
    if output == "github":
        for line in github_annotations(results):
            print(line)
        raise typer.Exit(code)
    if output == "json":
        print_json({"ok": code == 0, "exit_code": code,
                    "rules": {"file": str(rules) if rules else None,
                              "flags": {k: v for k, v in flags.items() if v not in (None, ())}},
                    "files": [r.to_dict() for r in results]})
        raise typer.Exit(code)
    for r in results:
        _print_file(r)
    n_ok = sum(r.ok for r in results)
    n_err = sum(r.error is not None for r in results)
    console.print(f"{len(results)} checked: {n_ok} comply, {len(results) - n_ok - n_err} violate, {n_err} invalid "
                  f"-> exit {code}")
    raise typer.Exit(code)


def _print_file(r) -> None:
    """User text (file, rule and op names, values) goes in as Text: never read as markup or emoji."""
    if r.error:
        for line in r.error_lines:
            console.print(f"ERROR {line}", style="bold red", markup=False, emoji=False, soft_wrap=True)
        return
    table = Table(title=Text(f"{r.source} ({r.name}, {r.kind})"), title_justify="left")
    for col in ("rule", "limit", "actual", "verdict"):
        table.add_column(col)
    for v in r.verdicts:
        table.add_row(Text(v.rule), Text(v.limit_text), Text(v.actual_text), Text(v.status, style=STATUS_STYLE[v.status]))
    if r.verdicts:
        console.print(table)
    word = "COMPLIES" if r.ok else "VIOLATES"
    failing_first = sorted(r.verdicts, key=lambda v: v.status == VerdictStatus.PASS)
    reasons = "; ".join(v.message for v in failing_first) or "no rules apply"
    console.print(f"{word} {r.source}: {reasons}", style="green" if r.ok else "bold red", markup=False, emoji=False,
                  soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(check)
