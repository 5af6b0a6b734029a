"""Atomic file writes: write a temp file in the same directory, then rename over the target.
A crash, Ctrl-C, SIGTERM or a full disk never leaves a half-written checkpoint, report or plot:
the previous file stays as it was. Faults of the machine become one-line StorageErrors that
name the path and the cause."""
from __future__ import annotations

import errno
import json
import os
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

from budgetnet.errors import StorageError, describe_os_error, os_cause


def check_dir(path: str | Path, flag: str = "--out") -> Path:
    """Prove that the output folder `path` can be made and written, before any work whose results
    would go there, without creating it: a file is written into its nearest existing folder and
    removed. A StorageError names the flag, the path and the cause."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise StorageError(f"{flag} {path}: is a file, not a folder")
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise StorageError(f"{flag} {path}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".budgetnet-probe.", dir=existing)
        try:
            os.write(fd, b"\0")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise StorageError(f"{flag} {path}: {os_cause(e)}") from None
    return path


def make_dir(path: str | Path, flag: str = "--out") -> Path:
    """`check_dir`, then create the folder (and its parents)."""
    path = check_dir(path, flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StorageError(f"{flag} {path}: {os_cause(e)}") from None
    return path


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """Yield a temp path next to `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    except OSError as e:
        raise StorageError(describe_os_error(e, "writing", path)) from None
    try:  # from here on the temp file is removed on any error, a signal's exception included
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report should read like any new file
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise StorageError(describe_os_error(e, "writing", path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_terminating = 0  # the signal being handled, once SIGTERM or SIGINT arrived


def unwind_on_signals() -> None:
    """SIGTERM (exit code 143) and Ctrl-C unwind the program: a write in progress removes its temp
    file and the last good file stays, where SIGTERM's default action would leave the temp file
    behind. The signal is remembered too, because a write inside torch.save's C++ writer may
    swallow the exception it raised."""
    def unwind(signum, frame):
        global _terminating
        _terminating = signum
        _raise_if_signalled()
    signal.signal(signal.SIGTERM, unwind)
    signal.signal(signal.SIGINT, unwind)


def _raise_if_signalled() -> None:
    if _terminating == signal.SIGTERM:
        raise SystemExit(128 + _terminating)
    if _terminating:
        raise KeyboardInterrupt


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        _write_synced(tmp, text.encode())


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def torch_save(obj, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        try:
            with open(tmp, "wb") as f:  # our file object: a full disk raises OSError, not torch's RuntimeError
                torch.save(obj, f)
                f.flush()
                os.fsync(f.fileno())
            _raise_if_signalled()  # a signal whose exception the writer swallowed: not a good file
        except RuntimeError as e:  # torch's C++ writer reports a failed write of our file object in its own words
            if _terminating:
                _raise_if_signalled()
            if isinstance(e.__context__, OSError):
                raise e.__context__ from None
            if "unexpected pos" in str(e) or "file write failed" in str(e):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None
            raise


def save_figure(fig, path: str | Path) -> None:
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")


def _write_synced(path: Path, data: bytes) -> None:
    """Write and flush to the disk, so that a full disk fails here and not after the rename."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
