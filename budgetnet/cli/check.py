"""`budgetnet check`: the verdict CI gates on."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from budgetnet.check import check_many, exit_code, load_rules
from budgetnet.cli.common import console, print_json

STATUS_STYLE = {"pass": "green", "fail": "bold red", "skipped": "yellow"}


def check(specs: List[str] = typer.Argument(..., help="Spec files, directories, globs or zoo names."),
          max_params: Optional[int] = typer.Option(None, min=1, help="Inclusive: params <= N complies."),
          max_macs: Optional[int] = typer.Option(None, min=1, help="Inclusive: MACs per image <= N complies."),
          max_epochs: Optional[int] = typer.Option(None, min=1, help="Inclusive: the recipe's epochs <= N."),
          min_accuracy: Optional[float] = typer.Option(None, min=0, max=1, help="Inclusive: test accuracy >= A (0-1), measured on --weights."),
          weights: Optional[Path] = typer.Option(None, help="Checkpoint to evaluate for --min-accuracy (one spec only)."),
          require_op: List[str] = typer.Option([], "--require-op", help="An op that must be used (repeatable)."),
          forbid_op: List[str] = typer.Option([], "--forbid-op", help="An op that must not be used (repeatable)."),
          max_fc_params: Optional[int] = typer.Option(None, min=0, help="Inclusive: parameters in linear layers <= N."),
          min_rf: Optional[int] = typer.Option(None, min=1, help="Inclusive: receptive field at the classifier >= N."),
          rules: Optional[Path] = typer.Option(None, help="YAML file of rules (same names as these flags, snake_case)."),
          data_dir: Optional[Path] = typer.Option(None, help="IDX data for --min-accuracy; default: embedded MNIST."),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object (files, rules, verdicts).")):
    """Check specs against budget rules. Rules: the spec's own `budget:`, then --rules, then flags
    (flags win). Every limit is inclusive. Exit 0: all comply; 1: any violates; 2: bad input
    (unreadable or invalid spec, bad rules, checkpoint mismatch); bad input wins over violations."""
    if weights is not None and len(specs) != 1:
        console.print("error: --weights checks one spec; give exactly one", style="red")
        raise typer.Exit(2)
    file_rules = load_rules(rules) if rules else None
    flags = dict(max_params=max_params, max_macs=max_macs, max_epochs=max_epochs, min_accuracy=min_accuracy,
                 require_ops=tuple(require_op), forbid_ops=tuple(forbid_op), max_fc_params=max_fc_params,
                 min_rf=min_rf)
    results = check_many(specs, weights=weights, rules=file_rules, data_dir=data_dir, **flags)
    code = exit_code(results)
    if as_json:
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
    if r.error:
        for line in r.error.splitlines():
            console.print(f"ERROR {line}", style="bold red", markup=False, soft_wrap=True)
        return
    table = Table(title=f"{r.source} ({r.name})", title_justify="left")
    for col in ("rule", "limit", "actual", "verdict"):
        table.add_column(col)
    for v in r.verdicts:
        table.add_row(v.rule, v.limit, v.actual, f"[{STATUS_STYLE[v.status]}]{v.status}[/]")
    if r.verdicts:
        console.print(table)
    word = "COMPLIES" if r.ok else "VIOLATES"
    failing_first = sorted(r.verdicts, key=lambda v: v.status == "pass")
    reasons = "; ".join(v.message for v in failing_first) or "no rules apply"
    console.print(f"{word} {r.source}: {reasons}", style="green" if r.ok else "bold red", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(check)
