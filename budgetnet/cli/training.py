"""`budgetnet train` and `budgetnet eval`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from budgetnet.cli.common import EVAL_DATA_HELP, THREADS_HELP, console, data_option, print_json, set_threads
from budgetnet.training.runs import TextEvalReport, evaluate_checkpoint, train_run
from budgetnet.spec.schema import load_spec

BACKEND_HELP = "torch or custom (the from-scratch layers); default: the spec's own."


def train(spec: str = typer.Argument(..., help="Zoo name or path to a YAML spec."),
          out: Path = typer.Option(..., "--out", help="Directory for checkpoint.pt, metrics.json, curves.png."),
          epochs: Optional[int] = typer.Option(None, min=1, help="Override the recipe's epochs."),
          seed: int = typer.Option(0, help="Seed for weights, batch order and augmentation."),
          subset: Optional[int] = typer.Option(None, min=1, help="Train on the first N training images (smoke runs)."),
          data: Optional[str] = data_option(),
          backend: Optional[str] = typer.Option(None, help=BACKEND_HELP),
          device: str = typer.Option("auto", help="cpu, cuda, cuda:1, ... (auto: cuda when available)."),
          full_train: bool = typer.Option(False, "--full-train", help="Train on all training images (no validation split) for a final model."),
          resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
          checkpoint_minutes: float = typer.Option(10.0, min=0.1, help="Also checkpoint within an epoch this often (long epochs)."),
          threads: Optional[int] = typer.Option(None, min=1, help=THREADS_HELP),
          keep_epochs: Optional[str] = typer.Option(None, "--keep-epochs", help=(
              "Also keep the checkpoint at the end of these epochs as OUT/epochNN.pt, e.g. 8-14 or 5,10: "
              "waypoints a run resumed from continues this one exactly."))):
    """Train a spec with its recipe. checkpoint.pt is written after every epoch and every
    --checkpoint-minutes within one; --resume continues it exactly (same losses, same weights)."""
    set_threads(threads)
    kept = epoch_set(keep_epochs, "--keep-epochs") if keep_epochs else ()
    s = load_spec(spec)
    epochs_total = epochs or s.train.epochs
    with Progress(TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]} {task.fields[unit]}/s  {task.fields[status]}", markup=False), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task(f"{s.name} epoch 1/{epochs_total}", total=None, rate="-", status="",
                            unit="seq" if s.is_text else "img")

        def on_batch(n):
            bar.advance(task, n)

        def on_epoch(stat, result):
            if s.is_text:  # sequences of `tokens` characters; validation in bits per character
                total = result.metrics.steps_per_epoch * s.train.batch_size
                val = f"val {stat.val_bpc:.3f} bits/char"
            else:
                total = result.metrics.train_images
                val = f"val {100 * stat.val_acc:.2f}%" if stat.val_acc is not None else ""
            rate = f"{total / stat.seconds:,.0f}"
            bar.update(task, description=f"{s.name} epoch {min(stat.epoch + 1, epochs_total)}/{epochs_total}",
                       completed=0, total=total, rate=rate, status=f"loss {stat.train_loss:.4f} {val}")
            console.print(f"epoch {stat.epoch:>3}  loss {stat.train_loss:.4f}  {val}  {stat.seconds:.1f}s")

        try:
            m = train_run(s, out, epochs=epochs, seed=seed, subset=subset, data=data, backend=backend,
                          device=device, full_train=full_train, resume=resume, on_batch=on_batch, on_epoch=on_epoch,
                          checkpoint_minutes=checkpoint_minutes, keep_epochs=kept)
        except KeyboardInterrupt:
            console.print(f"interrupted: {out / 'checkpoint.pt'} holds the last checkpoint (at most "
                          f"{checkpoint_minutes:g} minutes ago); continue with --resume")
            raise typer.Exit(130) from None
    if s.is_text:
        console.print(f"{m.name}: {m.params:,} params, {m.epochs} epochs in {m.seconds:.1f}s "
                      f"({m.tokens_per_s:,.0f} chars/s), val {m.val_bpc:.3f}, test {m.test_bpc:.3f} bits/char  -> {out}")
        return
    val = f"val {100 * m.val_acc:.2f}%, " if m.val_acc is not None else ""
    console.print(f"{m.name}: {m.params:,} params, {m.epochs} epochs in {m.seconds:.1f}s "
                  f"({m.images_per_s:,.0f} img/s), {val}test {100 * m.test_acc:.2f}%  -> {out}")


def epoch_set(text: str, option: str) -> set[int]:
    """'8-14' or '5,10,12-13' as a set of epochs (>= 1)."""
    epochs = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise typer.BadParameter(f"{text!r}: not epochs like 8-14 or 5,10", param_hint=option) from None
        if not 1 <= lo <= hi:
            raise typer.BadParameter(f"{text!r}: epochs count from 1, ranges go up", param_hint=option)
        epochs.update(range(lo, hi + 1))
    return epochs


def evaluate(checkpoint: Path = typer.Argument(..., help="A checkpoint.pt written by budgetnet train."),
             data: Optional[str] = data_option(EVAL_DATA_HELP),
             plot: Optional[Path] = typer.Option(None, help="Write the confusion matrix as a PNG here (nothing is written without it)."),
             backend: Optional[str] = typer.Option(None, help=BACKEND_HELP),
             as_json: bool = typer.Option(False, "--json", help="Print JSON (test_acc, f1_macro, per-class precision/recall/f1, confusion).")):
    """Test accuracy, macro F1, per-class precision and recall, and the confusion matrix of a
    checkpoint. Read-only: a PNG is written only where --plot asks."""
    r = evaluate_checkpoint(checkpoint, data, plot=plot, backend=backend)
    for note in r.notes:
        print(f"note: {note}", file=sys.stderr)
    if as_json:
        print_json(r.to_dict())
        return
    if isinstance(r, TextEvalReport):
        d = r.to_dict()
        console.print(f"{r.name}: {r.params:,} params, validation {d['val_bpc']:.4f} bits/char "
                      f"({r.val_loss:.4f} nats), test {d['test_bpc']:.4f} bits/char ({r.test_loss:.4f} nats)")
        return
    s = r.scores
    console.print(f"{r.name}: {r.params:,} params, test accuracy {100 * s.accuracy:.2f}%, macro F1 {s.f1_macro:.4f}")
    console.print(_class_table(s))
    if plot:
        console.print(f"confusion matrix -> {plot}")


def sample(checkpoint: Path = typer.Argument(..., help="A checkpoint.pt of a text model (budgetnet train on text)."),
           chars: int = typer.Option(300, min=1, max=100_000, help="Characters to generate."),
           seed: int = typer.Option(0, help="Seed of the sampling (same seed, same text)."),
           prompt: str = typer.Option("\n", help="Text the generation continues (characters of the vocabulary)."),
           temperature: float = typer.Option(1.0, min=0.01, max=100.0, help="Softmax temperature (< 1: safer, > 1: wilder)."),
           data: Optional[str] = data_option("The corpus the checkpoint records (default), or the same corpus elsewhere (refused when its fingerprint differs).")):
    """Print text a text model generates, one character at a time from its next-character
    distribution, continuing --prompt."""
    from budgetnet.training.text import sample_checkpoint
    print(sample_checkpoint(checkpoint, chars=chars, seed=seed, prompt=prompt, temperature=temperature, data=data))


def _class_table(s) -> Table:
    table = Table("class", "precision", "recall", "F1", box=None)
    for i, (p, r, f) in enumerate(zip(s.precision, s.recall, s.f1)):
        table.add_row(str(i), f"{100 * p:.2f}%", f"{100 * r:.2f}%", f"{f:.4f}")
    return table


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command("eval")(evaluate)
    app.command()(sample)
