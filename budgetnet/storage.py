"""Optuna storages: SQLite for one machine (with a busy timeout so several local workers wait
for the lock instead of failing), PostgreSQL (or any RDB URL) for many machines, with
heartbeats so a killed worker's trial is retried instead of left RUNNING."""
from __future__ import annotations

import optuna
from optuna.storages import RDBStorage, RetryFailedTrialCallback


def make_storage(url: str, heartbeat: int | None = None) -> RDBStorage:
    engine_kwargs = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}  # seconds to wait on a locked database
    else:
        engine_kwargs = {"pool_pre_ping": True}
    kwargs = {}
    if heartbeat:
        kwargs = {"heartbeat_interval": heartbeat, "grace_period": 3 * heartbeat,
                  "failed_trial_callback": RetryFailedTrialCallback(max_retry=3)}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
