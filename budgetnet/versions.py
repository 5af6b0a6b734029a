"""The versions a record states: budgetnet's own (pyproject.toml is its one source, read from the
installed package's metadata), torch's and Python's."""
from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("budgetnet")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"


def versions(**extra: str) -> dict:
    """budgetnet's, torch's and Python's versions, and any `extra` (name -> version) beside them."""
    import torch
    return {"budgetnet": __version__, "torch": torch.__version__, **extra, "python": platform.python_version()}
