"""Shared CLI helpers: consoles, JSON output."""
from __future__ import annotations

import json
import sys

from rich.console import Console

# never wrap lines in logs and pipes; tables get room to breathe when not on a terminal.
# markup and emoji off: user text (file, field and op names, values) is printed verbatim, so
# `[red]` stays `[red]` and `:ok:` stays `:ok:`; styles are given as style= arguments.
console = Console(highlight=False, soft_wrap=True, markup=False, emoji=False,
                  width=None if sys.stdout.isatty() else 160)


def print_json(obj) -> None:
    # plain print: rich would wrap long lines and break the JSON
    print(json.dumps(obj, indent=2))


def fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


DATA_HELP = ("The data: mnist (the embedded MNIST, the default), a directory of IDX files, a .npz "
             "(x_train, y_train, x_test, y_test) or an image folder (train/<class>/*.png, test/<class>/...).")
EVAL_DATA_HELP = ("The data to score on; default: the data the checkpoint records (refused when its "
                  "fingerprint differs). " + DATA_HELP.split(": ", 1)[1])


def data_option(help: str = DATA_HELP):
    """--data, with --data-dir kept as its old name."""
    import typer
    return typer.Option(None, "--data", "--data-dir", help=help)


THREADS_HELP = "Torch CPU threads (default: torch's own, usually one per core). One per job when jobs share the cores."


def set_threads(threads: int | None) -> None:
    if threads:
        import torch
        torch.set_num_threads(threads)
