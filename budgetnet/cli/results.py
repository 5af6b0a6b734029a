"""`budgetnet confirm`, `budgetnet results` and `budgetnet compare`: the figures the project stands behind."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from budgetnet.cli.common import THREADS_HELP, console, print_json, set_threads, data_option
from budgetnet.training.spread import SETTINGS

SettingName = Enum("SettingName", {name: name for name in SETTINGS}, type=str)


def confirm(spec: str = typer.Argument(..., help="Zoo name or YAML spec (e.g. a search's best.yaml)."),
            out: Path = typer.Option(..., "--out", help="Directory: seedK/ runs and confirm.json."),
            seeds: List[int] = typer.Option([0, 1, 2], "--seed", help="Seeds to train (repeatable)."),
            data: Optional[str] = data_option(),
            full_train: bool = typer.Option(False, "--full-train", help="Train on all training images (the final-model protocol, after selecting on validation)."),
            jobs: int = typer.Option(1, min=1, help="Seeds trained at once, each in its own process with one thread (seedK/log.txt); one job per core."),
            threads: Optional[int] = typer.Option(None, min=1, help=THREADS_HELP)):
    """Train a spec with its recipe once per seed and record each final-epoch test accuracy
    (resumable: finished seeds are kept; runs made by other commands in OUT are gathered too)."""
    from budgetnet.report.results import confirm as run_confirm

    set_threads(threads)
    def on_epoch(stat, result):
        val = f"val {100 * stat.val_acc:.2f}% " if stat.val_acc is not None else ""
        console.print(f"  seed {result.metrics.seed} epoch {stat.epoch:>2} loss {stat.train_loss:.4f} {val}{stat.seconds:.0f}s")

    def on_done(run_dir):
        console.print(f"  {run_dir.name} finished")

    r = run_confirm(spec, out, tuple(seeds), data, on_epoch, full_train=full_train, jobs=jobs, on_done=on_done)
    accs = ", ".join(f"seed {x.seed}: {100 * x.test_acc:.2f}%" for x in r.seeds)
    console.print(f"{r.name}: {r.params:,} params; test {accs}; median {100 * r.median_test_acc:.2f}%")


def pick(confirmations: List[Path] = typer.Argument(..., help="Folders written by budgetnet confirm (without --full-train)."),
         out: Path = typer.Option(..., "--out", help="Where the picked spec is written (YAML)."),
         name: str = typer.Option(..., help="Name of the picked spec."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON (picked, arms with their validation accuracies).")):
    """Select among confirmed variants on validation: the confirmation with the highest median
    validation accuracy (ties: fewer parameters) is written as a spec named NAME. Test accuracies
    are never read."""
    from budgetnet.report.results import pick as run_pick

    r = run_pick(confirmations, out, name)
    if as_json:
        print_json(r)
        return
    for a in r["arms"]:
        console.print(f"{a['name']}: validation {', '.join(f'{100 * v:.2f}%' for v in a['val_acc'])}; "
                      f"median {100 * a['median_val_acc']:.2f}%")
    console.print(f"picked {r['picked']} -> {out} ({name})")


def results(reports: Path = typer.Option(Path("reports"), help="Directory searched for confirm.json files."),
            readme: Optional[Path] = typer.Option(Path("README.md"), help="README whose results block is regenerated."),
            flagship: Optional[str] = typer.Option(None, help="Model CI retrains from scratch, by label: its name, or \"NAME (PARAMS)\" where names repeat (kept from the last run if omitted).")):
    """Write reports/results.json, reports/pareto.png and reports/deployment.png (accuracy against
    peak RAM) from every confirm.json, and regenerate from them the README's results table (the
    flagship, the smallest model reaching the target, the deployment model) and the full table in
    reports/README.md."""
    from budgetnet.report.results import table, write_results

    index = write_results(reports, readme, flagship)
    console.print(table(index), markup=False)
    console.print(f"{len(index['models'])} models -> {reports / 'results.json'}, {reports / 'pareto.png'}, "
                  f"{reports / 'deployment.png'}")


def compare(inputs: List[Path] = typer.Argument(..., help="Run folders (metrics.json), confirmations (confirm.json), comparison.json files, or folders of them."),
            out: Path = typer.Option(..., "--out", help="Folder for comparison.json, comparison.md and comparison.png."),
            title: str = typer.Option("Model comparison", help="Title of the table and the chart."),
            expect: List[str] = typer.Option([], "--expect", help="A model (zoo name or spec) that belongs in the table; listed as 'not started', with its command, when no run of it is found (repeatable)."),
            as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON.")):
    """Compare runs: accuracy, macro F1, training time, images/s, params and MACs per model, as a
    Markdown table, JSON and a chart. Runs still going are listed with the command that continues them."""
    from budgetnet.report.compare import markdown, write_comparison

    rows = write_comparison(inputs, out, title, tuple(expect))
    if as_json:
        print_json(rows)
        return
    console.print(markdown(rows), markup=False)
    console.print(f"{len(rows)} models -> {out / 'comparison.json'}, {out / 'comparison.md'}, {out / 'comparison.png'}")


def spread(spec: str = typer.Argument(..., help="Zoo name or YAML spec (e.g. a confirmation's spec.yaml)."),
           out: Path = typer.Option(..., "--out", help="Directory: one training run per setting, spread.json, spread.md."),
           seed: int = typer.Option(0, help="The seed to train under every setting (a confirmation's median seed)."),
           settings: List[SettingName] = typer.Option([], "--setting", help="Kernel settings to train under (repeatable); default: all."),
           full_train: bool = typer.Option(False, "--full-train", help="Train on all training images, as the confirmation did."),
           jobs: int = typer.Option(1, min=1, help="Settings trained at once; one per core (a threads-2 run takes two)."),
           subset: Optional[int] = typer.Option(None, min=1, help="Train on the first N training images (smoke runs)."),
           data: Optional[str] = data_option(),
           as_json: bool = typer.Option(False, "--json", help="Print spread.json.")):
    """Train one seed of a spec under several CPU kernel choices (ATen, oneDNN and MKL instruction
    sets, thread counts) and lay the final-epoch test accuracies side by side: the spread another
    machine's arithmetic can move a result by. Resumable: finished settings are kept."""
    from budgetnet.training.spread import DEFAULT_SETTINGS, markdown, measure

    def on_done(run_dir):
        if not as_json:
            console.print(f"  {run_dir.name} done -> {run_dir}")

    chosen = tuple(s.value for s in settings) or DEFAULT_SETTINGS
    record = measure(spec, out, seed, chosen, full_train, jobs, on_done, subset, data)
    if as_json:
        print_json(record)
        return
    console.print(markdown([record]), markup=False)
    console.print(f"spread {100 * record['spread']:.2f} points -> {out / 'spread.json'}, {out / 'spread.md'}")


def prior(root: Path = typer.Option(Path("."), help="Repository root (the committed studies are under reports/).")):
    """Distil the committed MNIST studies of the default search into the priors `search --prior`
    starts TPE from (budgetnet/search/priors/general_mnist_{1,3}ep.json, by the epochs of rung 0;
    maintainers)."""
    from budgetnet.search.prior import prior_file, write

    for epochs, written in write(root).items():
        console.print(f"{len(written['observations'])} {epochs}-epoch observations -> {prior_file(epochs)}",
                      markup=False)


def floor(root: Path = typer.Option(Path("."), help="Repository root (the committed confirmations are under reports/)."),
          out: Optional[Path] = typer.Option(None, help="Folder for floor.json and floor.png (default: ROOT/reports/floor).")):
    """Fit the default search's validation floor to the committed pairs of a search's selected trial
    (its validation reading) and its confirmation (the median test accuracy of fresh seeds on all
    60,000 images): the lowest reading whose predicted median reaches 99.40% (maintainers)."""
    from budgetnet.search.floor import write

    r = write(root, out)
    console.print(f"{len(r['pairs'])} pairs: median test = {r['slope']:.3f} x val + {r['intercept']:.4f} "
                  f"(residual sd {100 * r['residual_sd']:.3f} points); floor {100 * r['floor']:.2f}% validation "
                  f"(P(median >= {100 * r['target']:.2f}%) = {r['p_reach_at_floor']:.2f})", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(confirm)
    app.command()(prior)
    app.command()(floor)
    app.command()(pick)
    app.command()(spread)
    app.command()(results)
    app.command()(compare)
