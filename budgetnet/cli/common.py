"""Shared CLI helpers: consoles, JSON output."""
from __future__ import annotations

import json

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)  # never wrap lines in logs and pipes
console_err = Console(stderr=True, highlight=False)


def print_json(obj) -> None:
    # plain print: rich would wrap long lines and break the JSON
    print(json.dumps(obj, indent=2))


def fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"
