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
