"""`budgetnet export`: an ONNX file (and an int8 one) proven on the test set, with its record."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from budgetnet.cli.common import EVAL_DATA_HELP, console, data_option, print_json


def export(checkpoint: Path = typer.Argument(..., help="A checkpoint.pt written by budgetnet train / confirm."),
           out: Path = typer.Option(..., "--out", help="Folder for model.onnx, model_int8.onnx and export.json."),
           int8: bool = typer.Option(False, "--int8", help="Also quantize to int8 (static, QDQ, per-channel weights, calibrated on training images) and measure it."),
           data: Optional[str] = data_option(EVAL_DATA_HELP),
           max_disagreement: float = typer.Option(0.01, min=0, max=1, help="Refuse an int8 model whose predictions differ from the fp32 model's on more than this share of the test images."),
           as_json: bool = typer.Option(False, "--json", help="Print the record as JSON.")):
    """Export a checkpoint to ONNX (the input normalization inside), check its logits against
    PyTorch on the whole test set with onnxruntime before writing it, optionally quantize it to
    int8 and measure its test accuracy, and write export.json (verify with check --verify-record).
    Needs the export extra: pip install -e ".[export]"."""
    from budgetnet.export.onnx import export as run_export

    r = run_export(checkpoint, out, int8=int8, data=data, max_disagreement=max_disagreement)
    if as_json:
        print_json(r)
        return
    f = r["fp32"]
    console.print(f"{r['model']}: {r['params']:,} params; PyTorch test {100 * r['torch_test_acc']:.2f}%")
    console.print(f"  model.onnx: {f['bytes']:,} B, test {100 * f['test_acc']:.2f}%, max |logit diff| "
                  f"{f['max_abs_logit_diff']:.1e}, predictions agree on {100 * f['prediction_agreement']:.2f}%")
    if "int8" in r:
        q = r["int8"]
        console.print(f"  model_int8.onnx: {q['bytes']:,} B, test {100 * q['test_acc']:.2f}% (onnxruntime), "
                      f"agrees with fp32 on {100 * q['prediction_agreement']:.2f}%")
    console.print(f"  -> {out / 'export.json'}")


def register(app: typer.Typer) -> None:
    app.command()(export)
