"""`budgetnet bench ...`: speed figures as ratios against a baseline measured in the same run."""
from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from budgetnet.cli.common import console, print_json

app = typer.Typer(help="Benchmarks: figures and ratios against a baseline measured in the same run.",
                  no_args_is_help=True)


@app.command()
def layers(spec: str = typer.Option("mnistnet3", help="Spec whose conv layers are measured."),
           batch: int = typer.Option(128, min=1, help="Batch size for the custom and torch convs."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """From-scratch conv vs a seed-002-style loop conv and vs torch, on the spec's layer shapes."""
    from budgetnet.bench import bench_layers, bench_model

    rows = [r.to_dict() for r in bench_layers(spec, batch)]
    model = bench_model(spec, batch)
    if as_json:
        print_json({"spec": spec, "batch": batch, "layers": rows, "model": model})
        return
    t = Table(title=f"custom conv on {spec}'s layers, batch {batch} (loop: forward on 1 image, per image)",
              title_justify="left")
    for col in ("layer", "loop ms/img", "custom fwd ms", "torch fwd ms", "custom f+b ms", "torch f+b ms",
                "vs loop", "vs torch fwd", "vs torch f+b"):
        t.add_column(col, justify="left" if col == "layer" else "right")
    for r in rows:
        t.add_row(r["layer"], f"{r['loop_fwd_ms_per_image']:.1f}", f"{r['custom_fwd_ms']:.2f}", f"{r['torch_fwd_ms']:.2f}",
                  f"{r['custom_fwdbwd_ms']:.2f}", f"{r['torch_fwdbwd_ms']:.2f}", f"{r['custom_vs_loop_x']:,.0f}x faster",
                  f"{r['custom_vs_torch_fwd']:.2f}x", f"{r['custom_vs_torch_fwdbwd']:.2f}x")
    console.print(t)
    console.print(f"whole {spec}: custom/torch time ratio forward {model['custom_vs_torch_fwd']:.2f}x, "
                  f"forward+backward {model['custom_vs_torch_fwdbwd']:.2f}x (goal: within 3x); "
                  f"slowest layer vs loop: {min(r['custom_vs_loop_x'] for r in rows):,.0f}x faster (goal: 100x)")


@app.command()
def train(spec: str = typer.Option("mnistnet3", help="Spec to train."),
          images: int = typer.Option(10_240, min=256, help="Training images per contender."),
          data_dir: Optional[str] = typer.Option(None, help="IDX data directory; default: embedded MNIST."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON (key `ratio`).")):
    """Training images/s of budgetnet's loop vs a seed-style loop (per-sample Dataset,
    DataLoader, per-image augmentation, .item() every step): same model, batch and recipe."""
    from budgetnet.bench import bench_train

    r = bench_train(spec, images, data_dir)
    if as_json:
        print_json(r)
        return
    console.print(f"{r['spec']}, {r['images']:,} images each, {r['threads']} threads")
    console.print(f"  seed-style loop   {r['naive_images_per_s']:>9,.0f} img/s")
    console.print(f"  budgetnet engine  {r['engine_images_per_s']:>9,.0f} img/s")
    console.print(f"  ratio             {r['ratio']:>9.2f}x (goal: 4x)")
