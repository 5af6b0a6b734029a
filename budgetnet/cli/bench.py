"""`budgetnet bench ...`: speed figures as ratios against a baseline measured in the same run."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from budgetnet.errors import UsageError
from budgetnet.cli.common import console, data_option, print_json, set_threads

app = typer.Typer(help="Benchmarks: figures and ratios against a baseline measured in the same run.",
                  no_args_is_help=True)


@app.command()
def latency(checkpoint: Path = typer.Argument(..., help="A checkpoint.pt."),
            exported: Optional[Path] = typer.Option(None, help="A budgetnet export folder (model.onnx, model_int8.onnx) to time with onnxruntime."),
            runs: int = typer.Option(200, min=1, help="Timed runs of each (after 20 warm-up runs); the median is reported."),
            threads: int = typer.Option(1, min=1, help="Threads of torch and onnxruntime (1: as a small device runs it; more threads at batch 1 mostly wait on each other)."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Batch-1 CPU latency: torch eager, and onnxruntime fp32 and int8 where exported; median of
    N runs, in one run (a figure, never a rule: run it on a quiet machine)."""
    from budgetnet.bench.latency import latency as measure

    set_threads(threads)
    r = measure(checkpoint, exported, runs)
    if as_json:
        print_json(r)
        return
    parts = [f"{label} {r[key]:.3f} ms" for label, key in (("torch eager", "torch_eager_ms"),
                                                         ("onnxruntime fp32", "onnxruntime_fp32_ms"),
                                                         ("onnxruntime int8", "onnxruntime_int8_ms")) if key in r]
    console.print(f"{r['model']}, batch 1, {r['threads']} thread(s), median of {r['runs']}: " + ", ".join(parts))


@app.command()
def layers(spec: str = typer.Option("mnistnet3", help="Spec whose conv layers are measured."),
           batch: int = typer.Option(128, min=1, help="Batch size for the custom and torch convs."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """From-scratch conv vs a seed-002-style loop conv and vs torch, on the spec's layer shapes."""
    from budgetnet.bench.training import bench_layers, bench_model

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
def backends(spec: str = typer.Option("transformer_000", help="Spec built on both backends with the same weights."),
             batch: int = typer.Option(32, min=1, help="Batch size of the measured steps."),
             seconds: float = typer.Option(2.0, min=0.1, help="Seconds of calls timed per figure."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON (key `custom_vs_torch_fwdbwd`).")):
    """The whole network on the from-scratch backend against torch's: forward and training-step
    time, training images (or sequences)/s, the memory autograd keeps for backward, and the first
    training steps' losses from the same weights on the same batches, in the same run."""
    from budgetnet.bench.training import bench_model

    r = bench_model(spec, batch, seconds)
    if as_json:
        print_json(r)
        return
    t = Table(title=f"{r['spec']}, batch {batch}, {r['threads']} thread(s)", title_justify="left")
    for col in ("backend", "forward ms", "train step ms", "train img/s", "kept for backward MiB"):
        t.add_column(col, justify="left" if col == "backend" else "right")
    for name in ("custom", "torch"):
        t.add_row(name, f"{r[name + '_fwd_ms']:.1f}", f"{r[name + '_fwdbwd_ms']:.1f}",
                  f"{r[name + '_train_images_per_s']:,.1f}", f"{r[name + '_saved_bytes'] / 2**20:,.1f}")
    console.print(t)
    console.print(f"custom/torch time: forward {r['custom_vs_torch_fwd']:.2f}x, "
                  f"train step {r['custom_vs_torch_fwdbwd']:.2f}x (goal: within 3x)")
    console.print("first training steps, same weights and batches: custom losses "
                  + ", ".join(f"{v:.6f}" for v in r["custom_losses"]) + "; torch "
                  + ", ".join(f"{v:.6f}" for v in r["torch_losses"]) + f"; largest relative difference "
                  f"{r['max_loss_rel_diff']:.1e}")


@app.command()
def train(spec: str = typer.Option("mnistnet3", help="Spec to train."),
          images: int = typer.Option(10_240, min=256, help="Training images per contender."),
          data: Optional[str] = data_option(),
          as_json: bool = typer.Option(False, "--json", help="Print JSON (key `ratio`).")):
    """Training images/s of budgetnet's loop vs a seed-style loop (per-sample Dataset,
    DataLoader, per-image augmentation, .item() every step): same model, batch and recipe."""
    from budgetnet.bench.training import bench_train

    r = bench_train(spec, images, data)
    if as_json:
        print_json(r)
        return
    console.print(f"{r['spec']}, {r['images']:,} images each, {r['threads']} threads")
    console.print(f"  seed-style loop   {r['naive_images_per_s']:>9,.0f} img/s")
    console.print(f"  budgetnet engine  {r['engine_images_per_s']:>9,.0f} img/s")
    console.print(f"  ratio             {r['ratio']:>9.2f}x (goal: 4x)")


@app.command()
def step(spec: str = typer.Option("best_lean7k", help="Image spec whose recipe's training step is timed."),
         variants: List[str] = typer.Option(["plain", "reference", "fast", "fast-nchw", "fast-bf16", "fast-compile", "fast-inplace", "fast-no-onednn", "grouped-3", "no-dropout"], "--variant",
                                            help="Variants (repeatable): plain (the baseline, always run), reference, fast, fast-nchw, fast-bf16, fast-compile, fast-inplace, fast-no-onednn, grouped-3 (three models as one grouped model, per model), no-dropout (a ceiling)."),
         rounds: int = typer.Option(7, min=1, help="Interleaved rounds; each variant's median round counts."),
         steps: int = typer.Option(10, min=1, help="Training steps per variant per round."),
         threads: int = typer.Option(1, min=1, help="Torch CPU threads (1: as a search worker trains)."),
         out: Optional[Path] = typer.Option(None, help="Also write the JSON here."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """One training step of the spec's recipe: images/s of each engine variant against the same
    layout written as plain PyTorch, in interleaved rounds of one run; GFLOP/s and their share of
    a single-precision GEMM measured in the same run; where the time goes by op family (plain and
    fast); the CPU with its instruction sets. Absolute figures need a quiet machine; the ratios
    are what to compare."""
    from budgetnet.bench.step import VARIANTS, bench_step
    from budgetnet.atomic import write_text

    set_threads(threads)
    r = bench_step(spec, variants, rounds, steps,
                   on_round=None if as_json else lambda i: console.print(f"  round {i}/{rounds}", markup=False))
    d = r.to_dict()
    if out:
        write_text(out, json.dumps(d, indent=2) + "\n")
    if as_json:
        print_json(d)
        return
    console.print(f"{r.spec} ({r.params:,} params, {r.macs_per_image:,} MACs/image), batch {r.batch}, "
                  f"{r.threads} thread(s), median of {r.rounds} rounds", markup=False)
    console.print(f"CPU: {r.cpu['model']}; {' '.join(r.cpu['isa'])}; torch {r.cpu['torch']} kernels "
                  f"{r.cpu['torch_capability']}; SGEMM {r.gemm_gflops:.1f} GFLOP/s", markup=False)
    t = Table(title_justify="left")
    for col in ("variant", "img/s", "vs plain", "GFLOP/s", "of SGEMM", "setup s", "what"):
        t.add_column(col, justify="left" if col in ("variant", "what") else "right")
    for v in r.variants:
        t.add_row(v.variant, f"{v.images_per_s:,.0f}", f"{v.vs_plain:.2f}x", f"{v.gflops:.1f}",
                  f"{100 * v.peak_share:.0f}%", f"{v.setup_s:.1f}", VARIANTS[v.variant])
    console.print(t)
    p = Table(title="share of the step's CPU time by op family", title_justify="left")
    p.add_column("family")
    for name in r.profiles:
        p.add_column(name, justify="right")
    for fam in next(iter(r.profiles.values()), {}):
        p.add_row(fam, *[f"{100 * r.profiles[n][fam]:.1f}%" for n in r.profiles])
    console.print(p)


@app.command()
def target(spec: str = typer.Argument(..., help="Zoo name or YAML spec; its recipe is used as is."),
           seeds: List[int] = typer.Option([0, 1, 2], "--seed", help="Seeds to train (repeatable)."),
           limit: float = typer.Option(45.0, min=1, help="Training seconds allowed (median seed)."),
           accuracy: float = typer.Option(0.994, min=0, max=1, help="Final-epoch test accuracy to reach (median seed)."),
           full_train: bool = typer.Option(False, "--full-train", help="Train on all training images (no per-epoch validation)."),
           data: Optional[str] = data_option(),
           subset: Optional[int] = typer.Option(None, min=1, help="Train on the first N training images (smoke runs)."),
           epochs: Optional[int] = typer.Option(None, min=1, help="The recipe compressed to N epochs (its schedule spans the shorter run): samples to target."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON (keys median_seconds, median_test_acc, samples, reached).")):
    """Time to target: train a spec once per seed and report training seconds, training samples
    (epochs x images) and final-epoch test accuracy against a limit (default 45 s, 99.40%).
    An absolute figure: run it on a quiet machine."""
    from budgetnet.bench.training import bench_target

    def on_epoch(stat, result):
        if not as_json:
            console.print(f"  seed {result.metrics.seed} epoch {stat.epoch:>2} {result.metrics.seconds:6.1f}s")

    r = bench_target(spec, tuple(seeds), limit, accuracy, full_train, data, on_epoch, subset, epochs)
    if as_json:
        print_json(r)
        return
    console.print(f"{r['spec']}: {r['params']:,} params, {r['epochs']} epochs, batch {r['batch_size']}, "
                  f"{r['train_images']:,} training images ({r['samples']:,} samples), {r['threads']} threads")
    for row in r["seeds"]:
        console.print(f"  seed {row['seed']}: {row['seconds']:6.1f} s, test {100 * row['test_acc']:.2f}%, "
                      f"{row['images_per_s']:,.0f} img/s")
    verdict = "reached" if r["reached"] else "not reached"
    console.print(f"median: {r['median_seconds']:.1f} s (limit {limit:.0f} s), test {100 * r['median_test_acc']:.2f}% "
                  f"(target {100 * accuracy:.2f}%): {verdict}")


@app.command()
def search(setups: List[str] = typer.Option(["default", "lean7k"], "--setup", help="Setups to run back to back (repeatable): default, rungs-3-15, sobol-cost, sobol-cost-prior, lean7k, general-quartile, default-1worker, three-rungs, rungs-1-7-15, prior (the default with --prior), rungs-1-5 (a 5-epoch top rung), rungs-1-5-prior."),
           max_params: int = typer.Option(6999, min=1, help="Budget for every setup (inclusive)."),
           timeout: float = typer.Option(1800, min=1, help="Seconds each setup may start trials for."),
           warm_start: bool = typer.Option(False, help="Let the setups run their warm-start references (off: searches from nothing)."),
           out: Path = typer.Option(Path("runs/bench-search"), help="One folder per setup (study, bench.json); existing setups are analysed, not rerun."),
           seed: int = typer.Option(0, help="Sampler seed of every setup."),
           subset: Optional[int] = typer.Option(None, min=1, help="Train on the first N images (smoke runs)."),
           epochs: Optional[int] = typer.Option(None, min=1, help="Top rung / trial epochs (smoke runs)."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON: a list, one object per setup.")):
    """Search power: each setup searches the same budget for the same wall time; reports the time
    to the first feasible trial (val >= floor, within budget), the best validation accuracy at
    10, 20, 30 and 60 minutes, and trials per hour. An absolute figure: run it on a quiet machine."""
    from budgetnet.bench.search import SETUPS, bench_search
    from budgetnet.search.record import TrialRecord, TrialStatus

    unknown = [s for s in setups if s not in SETUPS]
    if unknown:
        raise UsageError(f"--setup: unknown setup {unknown[0]!r}; choose from {', '.join(SETUPS)}")

    def on_trial(study, trial):
        rec = TrialRecord.of(trial)
        if not as_json and rec.status != TrialStatus.DEFERRED:
            val = f"val {100 * rec.val_acc:.2f}%" if rec.val_acc is not None else rec.status or ""
            console.print(f"  {study.study_name} trial {trial.number} rung {rec.rung} {val}", markup=False)

    rows = bench_search(setups, out, max_params, timeout, warm_start, seed, subset, epochs, on_trial)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        first = f"{r['first_feasible_s'] / 60:.1f} min" if r["first_feasible_s"] is not None else "none"
        at = ", ".join(f"{m} min {100 * v:.2f}%" if v is not None else f"{m} min -" for m, v in r["best_val_at_min"].items())
        console.print(f"{r['search']}: {r['workers']} worker(s) x {r['threads_per_worker']} thread(s), {r['pruner']}; "
                      f"first feasible {first}; best val at {at}; {r['trials_per_hour']:.0f} trials/h", markup=False)


@app.command()
def workers(spec: str = typer.Option("best_lean7k", help="Spec trained by every job."),
            jobs: int = typer.Option(4, min=1, help="Trainings (trials) to do each way."),
            epochs: int = typer.Option(2, min=1, help="Epochs per job (a first rung)."),
            subset: Optional[int] = typer.Option(None, min=1, help="Training images per job (default: all 55,000)."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON (key `ratio`).")):
    """Trials per hour: one worker per core (one thread each) against one worker with every thread,
    the same jobs both ways, in the same run."""
    from budgetnet.bench.search import bench_workers

    r = bench_workers(spec, jobs, epochs, subset)
    if as_json:
        print_json(r)
        return
    console.print(f"{r['spec']}: {r['jobs']} jobs of {r['epochs']} epochs on {r['cores']} cores", markup=False)
    console.print(f"  1 worker x {r['cores']} threads   {r['one_worker_all_threads_s']:7.1f} s  "
                  f"{r['one_worker_trials_per_hour']:7.1f} trials/h")
    console.print(f"  {r['cores']} workers x 1 thread    {r['worker_per_core_s']:7.1f} s  "
                  f"{r['worker_per_core_trials_per_hour']:7.1f} trials/h")
    console.print(f"  ratio {r['ratio']:.2f}x (worker per core vs one worker)")


@app.command()
def cost(root: Path = typer.Option(Path("."), help="Repository root (the committed studies are under reports/)."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """The search's cost model refitted on the committed studies' trained trials: seconds per
    epoch from MACs and activation elements, against MACs alone (R^2, rank correlation). For
    maintainers: it reads the studies under reports/ of a budgetnet checkout."""
    from budgetnet.search.cost import fit

    r = fit(root)
    if as_json:
        print_json(r)
        return
    console.print(f"{r['trials']} trained trials: seconds/epoch = {r['macs_s']} x MACs/1e6 + {r['acts_s']} x "
                  f"activations/1e5 + {r['base_s']}", markup=False)
    console.print(f"  MACs + activations: R^2 {r['r2']:.2f}, rank correlation {r['rank_correlation']:.2f}", markup=False)
    console.print(f"  MACs alone:         R^2 {r['r2_macs_only']:.2f}, rank correlation "
                  f"{r['rank_correlation_macs_only']:.2f}", markup=False)


@app.command()
def rungs(settings: List[str] = typer.Option(["3ep", "1ep", "3ep-third"], "--setting", help="Low-fidelity settings (repeatable): 1ep (the default rung 0), 2ep, 3ep (a 3-epoch rung 0), 3ep-third (3 epochs on a third of the images), 7ep (the middle rung of --rungs 3,7,15)."),
          out: Path = typer.Option(Path("reports/fidelity"), help="Directory: runs/ (one JSON per run, resumable), rungs.json, rungs.png."),
          root: Path = typer.Option(Path("."), help="Repository root (the committed studies are under reports/)."),
          jobs: int = typer.Option(1, min=1, help="Runs trained at once, each in its own process with one thread; one job per core."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Low rungs ranked: each setting's validation accuracy against the 15-epoch one on the
    committed studies' candidates (Spearman within each budget, a bootstrap interval, the top
    third kept) and its cost (training samples, seconds here). For maintainers: it reads the
    studies under reports/ of a budgetnet checkout."""
    from budgetnet.bench.rungs import SETTINGS, bench_rungs

    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise UsageError(f"--setting: unknown {', '.join(unknown)}; known: {', '.join(SETTINGS)}")

    def on_run(row, total):
        console.print(f"  {row['setting']:>9}  {row['key']:<28} val {row['val_acc']:.2%}  {row['seconds']:6.1f} s"
                      f"  (of {total} to train)", markup=False)

    r = bench_rungs(root, out, settings, jobs, on_run)
    if as_json:
        print_json(r)
        return
    t = Table(title=f"{r['candidates']} candidates with a 15-epoch validation ({r['by_budget']})", title_justify="left")
    for col in ("setting", "samples", "median s here", "s vs 1ep", "budget", "n", "Spearman", "95% interval",
                "top third kept"):
        t.add_column(col, justify="left" if col == "setting" else "right")
    for name, s in r["settings"].items():
        for budget, g in s["by_budget"].items():
            here = "-" if s["median_seconds_here"] is None else f"{s['median_seconds_here']:.0f}"
            ratio = "-" if s["seconds_vs_1ep"] is None else f"{s['seconds_vs_1ep']:.2f}x"
            t.add_row(name, f"{s['samples']:,}", here, ratio, budget, str(g["n"]), f"{g['spearman']:.2f}",
                      f"{g['spearman_95'][0]:.2f} to {g['spearman_95'][1]:.2f}", f"{g['top_third_kept']:.0%}")
    console.print(t)
    console.print(f"wrote {out / 'rungs.json'}, {out / 'rungs.png'}", markup=False)
