"""`budgetnet summary` and `budgetnet zoo`: what a spec is, before any training."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from budgetnet.cli.common import console, fmt_int, print_json
from budgetnet.model.compile import summarize
from budgetnet.spec.schema import load_spec, zoo_names


def _args_text(args: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())


def summary(spec: str = typer.Argument(..., help="Zoo name or path to a YAML spec."),
            as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table.")):
    """Per-layer output shape, parameters, MACs and receptive field of a spec, and totals."""
    spec = load_spec(spec)
    s = summarize(spec)
    if as_json:
        print_json(s.to_dict())
        return
    m = s.memory
    shown = f"{spec.input[0]} tokens, vocab {spec.vocab}" if spec.is_text else "x".join(map(str, s.input))
    table = Table(title=f"{s.name}  (input {shown})", title_justify="left")
    for col, just in (("#", "right"), ("op", "left"), ("args", "left"), ("out shape", "left"),
                      ("params", "right"), ("MACs", "right"), ("RF", "right"), ("jump", "right"),
                      ("act in B", "right"), ("act out B", "right"), ("live B", "right"), ("int8 weights B", "right")):
        table.add_column(col, justify=just)
    for r in s.rows:
        live = f"{r.live:,}" + (" <- peak" if r.index == m.peak_row else "")
        table.add_row(str(r.index), r.op, _args_text(r.args), "x".join(map(str, r.out_shape)),
                      fmt_int(r.params), fmt_int(r.macs), str(r.rf), str(r.jump), fmt_int(r.act_in),
                      fmt_int(r.act_out), live, fmt_int(r.int8_weight_bytes))
    table.add_section()
    table.add_row("", "total", "", "", fmt_int(s.params), fmt_int(s.macs), str(s.rf), "", "", "",
                  fmt_int(m.peak_bytes()), fmt_int(m.int8_weight_bytes))
    console.print(table)
    per = "sequence" if spec.is_text else "image"
    console.print(f"{s.name}: {s.params:,} parameters, {s.macs:,} MACs per {per}, receptive field {s.rf}")
    console.print(f"weights: {m.int8_weight_bytes:,} B int8 (batch norm folded, per-channel scales), "
                  f"{m.fp32_weight_bytes:,} B fp32; peak activations at batch 1: {m.peak_bytes():,} B int8, "
                  f"{m.peak_bytes('fp32'):,} B fp32 at layer {m.peak_row} ({s.rows[m.peak_row].op}); "
                  f"uNAS convention (network input excluded): {m.peak_bytes(exclude_input=True):,} B int8")


def zoo(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")):
    """List the shipped reference specs with parameters and MACs."""
    rows = []
    for name in zoo_names():
        spec, s = load_spec(name), summarize(name)
        rows.append({"name": name, "params": s.params, "macs": s.macs, "backend": spec.backend,
                     "source": spec.source})
    if as_json:
        print_json(rows)
        return
    table = Table(title="budgetnet zoo", title_justify="left")
    for col, just in (("name", "left"), ("params", "right"), ("MACs", "right"), ("backend", "left"), ("source", "left")):
        table.add_column(col, justify=just)
    for r in rows:
        table.add_row(r["name"], fmt_int(r["params"]), fmt_int(r["macs"]), r["backend"], r["source"])
    console.print(table)


def scale(spec: str = typer.Argument(..., help="Zoo name or path to a YAML spec."),
          max_params: int = typer.Option(..., min=1, help="The budget, inclusive (params <= N)."),
          out: Path = typer.Option(..., "--out", help="The scaled spec's YAML file (written atomically)."),
          name: Optional[str] = typer.Option(None, help="The scaled spec's name (default: NAME_N).")):
    """Scale a spec's hidden widths (every conv and linear but the classifier) by one factor to fill
    a parameter budget, as the search fills its candidates; layout and recipe stay as they are."""
    from budgetnet import atomic
    from budgetnet.model.scale import scale_to_budget

    scaled = scale_to_budget(spec, max_params, name)
    atomic.write_text(out, scaled.to_yaml())
    s = summarize(scaled)
    console.print(f"{scaled.name}: {s.params:,} params (budget {max_params:,}, fill {s.params / max_params:.3f}), "
                  f"{s.macs:,} MACs; {scaled.source} -> {out}")


def register(app: typer.Typer) -> None:
    app.command()(summary)
    app.command()(scale)
    app.command()(zoo)
