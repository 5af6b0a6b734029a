"""The `budgetnet` command line. Each command parses its arguments, calls one library function,
formats the result and sets the exit code: 0 ok, 1 a verdict against you, 2 bad input or a fault
of the machine (a full disk, a read-only path), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."""
from __future__ import annotations

import inspect
import sys

import typer
from typer.core import TyperGroup

from budgetnet import atomic
from budgetnet.cli import bench, check, export, models, results, search, training
from budgetnet.errors import BudgetnetError, os_cause


class _Group(TyperGroup):
    """Turns every BudgetnetError into its one-line messages on stderr and exit code 2; so too an
    OSError that no write path named (the machine's fault, never a traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BudgetnetError as e:
            _fail(ctx, str(e).splitlines())
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            _fail(ctx, [f"{os_cause(e)}{where}"])
        except Exception as e:
            from budgetnet.search.storage import is_unreachable  # a study database gone for good
            if not (type(e).__module__.startswith("sqlalchemy") or is_unreachable(e)):
                raise
            cause = str(getattr(e, "orig", None) or e).splitlines()[0]  # the study database went away mid-run
            _fail(ctx, [f"the study database failed: {cause}; the trials it holds are kept: run the same command "
                        f"again to resume"])


def _fail(ctx, lines: list[str]) -> None:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)  # plain print: never wrapped
    ctx.exit(2)



app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find and prove small networks that hit an accuracy target inside a parameter budget.")
for module in (models, training, check, search, results, export):
    module.register(app)
app.add_typer(bench.app, name="bench")


def _reflow(typer_app: typer.Typer) -> None:
    """Join each help paragraph's lines, so `--help` wraps them to the terminal (the docstrings'
    own line breaks would cut sentences next to rich's wrapping)."""
    for command in typer_app.registered_commands:
        doc = command.callback.__doc__
        if doc:
            paragraphs = inspect.cleandoc(doc).split("\n\n")
            command.callback.__doc__ = "\n\n".join(" ".join(p.split()) for p in paragraphs)


for _app in (app, bench.app):
    _reflow(_app)


def main() -> None:
    atomic.unwind_on_signals()
    app()
