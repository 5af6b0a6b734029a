"""Errors that reach the user: each one line, naming where the problem is."""
from __future__ import annotations

import reprlib
from dataclasses import dataclass

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40
_short.maxlevel = 2


def short_repr(value: object) -> str:
    """A bounded repr: safe on huge or deeply nested (alias-bomb) values."""
    return _short.repr(value)


def format_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Issue:
    loc: tuple[str | int, ...]
    msg: str

    def line(self, source: str) -> str:
        where = format_loc(self.loc)
        return f"{source}:{where}: {self.msg}" if where else f"{source}: {self.msg}"


def pydantic_issues(err, prefix: tuple = ()) -> list[Issue]:
    """Every problem of a pydantic ValidationError, located, with the offending value."""
    out = []
    for e in err.errors(include_url=False):
        msg = e["msg"]
        if e["type"] not in ("missing", "extra_forbidden"):
            msg += f", got {short_repr(e['input'])}"
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        out.append(Issue(prefix + tuple(e["loc"]), msg))
    return out


class BudgetnetError(Exception):
    """Base of every error budgetnet reports to users (the CLI exits 2 on these)."""


class SpecError(BudgetnetError):
    """A spec that cannot be read or is invalid; carries every problem found."""

    def __init__(self, source: str, issues: list[Issue]):
        self.source = source
        self.issues = issues
        super().__init__("\n".join(i.line(source) for i in issues))


class DataError(BudgetnetError):
    """A missing, truncated or corrupt data file."""


class CheckpointError(BudgetnetError):
    """A checkpoint that cannot be read or does not match its spec."""


class RulesError(BudgetnetError):
    """A rules file or rule flag that is invalid."""


class UsageError(BudgetnetError):
    """A command-line value that is invalid (the message names the flag)."""


class StorageError(BudgetnetError):
    """A fault of the machine where budgetnet reads or writes: a full disk, a read-only or
    vanished path, an output path that is a file, a study database that cannot be used."""


def os_cause(e: OSError) -> str:
    """An OSError's cause in words, without its path: "no space left on device"."""
    cause = (e.strerror or str(e) or type(e).__name__).rstrip(".")
    return cause[0].lower() + cause[1:]


def describe_os_error(e: OSError, doing: str, path) -> str:
    """One line: the cause in words, what was being done, and the path."""
    return f"{os_cause(e)} while {doing} {path}"
