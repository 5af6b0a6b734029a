"""The `budgetnet` command line. Each command parses its arguments, calls one library function,
formats the result and sets the exit code: 0 ok, 1 a verdict against you, 2 bad input."""
from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from budgetnet.cli import bench, check, export, models, results, search, training
from budgetnet.errors import BudgetnetError


class _Group(TyperGroup):
    """Turns every BudgetnetError into its one-line messages on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BudgetnetError as e:
            for line in str(e).splitlines():
                print(f"error: {line}", file=sys.stderr)  # plain print: never wrapped
            ctx.exit(2)


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find and prove small networks that hit an accuracy target inside a parameter budget.")
for module in (models, training, check, search, results, export):
    module.register(app)
app.add_typer(bench.app, name="bench")


def main() -> None:
    app()
