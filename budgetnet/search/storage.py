"""Optuna storages and the one piece of coordination budgetnet adds on top of them.

- SQLite (one machine): a busy timeout, so several local workers wait for the write lock
  instead of failing. SQLite serialises writers; it suits a handful of local processes, not
  many machines or a network filesystem.
- PostgreSQL (`postgresql+psycopg://...`, many machines): Optuna's RDB storage as is.
- Heartbeats: a running trial's worker writes a heartbeat every `heartbeat` seconds; a trial
  whose heartbeat stops (SIGKILL, power loss) is marked FAIL by the next worker and re-enqueued
  with the same parameters (RetryHeartbeatStaleTrialCallback, up to 3 times).
- Trial slots: `slot_lock` is a mutex (a PostgreSQL advisory lock, or an flock next to the
  SQLite file) held while a worker counts the trials and starts its next one, so N workers
  finish exactly the requested number of trials. It is a lock around Optuna's own trial
  creation, not a queue.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
import time
import warnings
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from budgetnet.errors import StorageError, UsageError

DEFAULT_HEARTBEAT = 10  # seconds
log = logging.getLogger("budgetnet")


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy's default driver is psycopg2)."""
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def make_storage(url: str, heartbeat: int | None = DEFAULT_HEARTBEAT) -> RDBStorage:
    url = normalize_url(url)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since v2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        kwargs = {}
        if heartbeat:
            kwargs = {"heartbeat_interval": heartbeat, "grace_period": 3 * heartbeat,
                      "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=3)}
        try:
            return PatientStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except sqlalchemy.exc.SQLAlchemyError as e:
            raise StorageError(database_fault(url, e)) from None


def database_fault(url: str, e: Exception) -> str:
    """One line for a study database that cannot be used: which one, and why."""
    cause = str(getattr(e, "orig", None) or e).splitlines()[0]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        if "not a database" in cause or "malformed" in cause:
            return (f"{path}: not a readable study database ({cause}); move it aside to start a new "
                    f"study, or put back a good copy")
        return f"{path}: the study database cannot be used: {cause}"
    return f"the study database {sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)} cannot be used: {cause}"


class PatientStorage(RDBStorage):
    """Optuna's RDB storage whose heartbeats outlast an outage of the database: a beat that cannot
    be written is missed (said once), not the end of the trial's heartbeat thread. A trial whose
    beats stay missed past the grace period is failed and runs again, as for a dead worker."""

    _away_since: float | None = None

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as e:
            if not is_unreachable(e):
                raise
            if self._away_since is None:
                self._away_since = time.monotonic()
                log.warning(f"the study database stopped answering ({_cause(e)}); the trial trains on and its "
                            "worker waits for the database")
            return
        if self._away_since is not None:
            log.warning(f"the study database answers again after {time.monotonic() - self._away_since:.0f} s")
            self._away_since = None


def _cause(e: BaseException) -> str:
    """The database driver's own words, where the chain of exceptions holds them."""
    first = e
    while e is not None:
        if isinstance(e, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return str(getattr(e, "orig", None) or e).splitlines()[0]
        e = e.__cause__ or e.__context__
    return str(first).splitlines()[0]


class SlotLock:
    """A cross-process mutex tied to one study; released automatically if its holder dies."""

    def __init__(self, url: str, study_name: str):
        self.url, self.key = normalize_url(url), int.from_bytes(hashlib.sha256(study_name.encode()).digest()[:7], "big")
        self._held = threading.Lock()  # guards double release within this process
        self._conn = self._file = None

    def acquire(self) -> None:
        if self.url.startswith("sqlite"):
            path = Path(self.url.split("///", 1)[1] + ".lock")
            self._file = open(path, "a")
            fcntl.flock(self._file, fcntl.LOCK_EX)
        elif self.url.startswith("postgresql"):
            self._conn = sqlalchemy.create_engine(self.url, poolclass=sqlalchemy.pool.NullPool).connect()
            self._conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        self._held.acquire()

    def release(self) -> None:
        if not self._held.locked():
            return
        self._held.release()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            with contextlib.suppress(sqlalchemy.exc.SQLAlchemyError):
                self._conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.close()  # closing the session frees the lock in any case
            self._conn = None

    def __enter__(self) -> "SlotLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def fail_stale(study: optuna.Study) -> None:
    """Mark trials whose worker stopped heartbeating as FAIL (and so re-enqueue them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def committed_study(root: Path, path: str, command: str) -> str:
    """The SQLite URL of a study committed in a budgetnet checkout, for the maintainers' commands
    that refit from them; a UsageError where `root` is not such a checkout."""
    db = Path(root) / path
    if not db.is_file():
        raise UsageError(f"{command} reads the studies committed in a budgetnet checkout ({path} under "
                         f"{Path(root).resolve()} is missing); run it from the repository root, or pass --root")
    return f"sqlite:///{db.resolve()}"


def is_unreachable(e: BaseException) -> bool:
    """Whether `e` says the study database stopped answering (a server gone, a connection
    dropped), as opposed to a mistake in what was asked of it."""
    while e is not None:
        if isinstance(e, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        e = e.__cause__ or e.__context__
    return False


class Outage:
    """A study database that stopped answering: its workers wait for it, up to `patience`
    seconds, then give up in one line. Its finished trials stay in it; a trial it interrupted
    is failed by its missed heartbeats and runs again."""

    def __init__(self, url: str, patience: float):
        self.url, self.patience, self.since = url, patience, None

    def wait(self, error: BaseException) -> None:
        now = time.monotonic()
        cause = _cause(error)
        if self.since is None:
            self.since = now
            log.warning(f"the study database stopped answering ({cause}); waiting up to {self.patience:.0f} s")
        if now - self.since > self.patience:
            raise StorageError(f"the study database {_shown(self.url)} did not answer for {self.patience:.0f} s "
                               f"({cause}); its finished trials are kept: run the same command again once it is back")
        time.sleep(2.0)

    def back(self) -> None:
        if self.since is not None:
            log.warning(f"the study database answers again after {time.monotonic() - self.since:.0f} s; "
                        "a trial it interrupted runs again")
            self.since = None


def _shown(url: str) -> str:
    return sqlalchemy.engine.make_url(normalize_url(url)).render_as_string(hide_password=True)
