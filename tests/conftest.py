import os
import time
from pathlib import Path

import pytest
import torch

CORES = max(1, min(2, os.cpu_count() or 1))
torch.set_num_threads(CORES)


@pytest.fixture
def write_yaml(tmp_path):
    """Write text to a YAML file in tmp_path and return its path as a string."""
    def write(text: str, name: str = "net.yaml") -> str:
        p = tmp_path / name
        p.write_text(text)
        return str(p)
    return write


@pytest.fixture(scope="session")
def retrains(request, tmp_path_factory):
    """The slow tier's retrains from scratch, one per `model` a selected test that uses this fixture
    is parametrized with: each in its own one-thread process under CI's kernel setting, as
    `budgetnet spread --setting portable` runs it. They are most of CI's time, so they start
    before the first test (see `_retrains_start_first`) and the rest of the suite runs beside them,
    this process with one thread fewer (one job per core) and a lower priority. Each is a relay
    (budgetnet/training/relay.py): when its test waits for it, the rest of the suite is done, and
    the rest of its schedule also runs on the freed core from a committed waypoint of the same
    run (its setting's `waypoints/` in the model's spread report)."""
    from budgetnet.report.results import CI_SETTING
    from budgetnet.training.relay import Relay, waypoints_in
    from budgetnet.training.spread import SETTINGS

    root, repo = tmp_path_factory.mktemp("retrains"), Path(__file__).resolve().parent.parent
    models = {item.callspec.params["model"]["spec"]: item.callspec.params["model"]
              for item in request.session.items if _waits_for_a_retrain(item)}
    runs = {spec: Relay(repo / spec, root / str(i), m["checkpoint_seed"], SETTINGS[CI_SETTING], m["full_train"],
                        m["epochs"], waypoints_in(repo / m["kernels"]["report"] / CI_SETTING / "waypoints"))
            for i, (spec, m) in enumerate(models.items())}
    torch.set_num_threads(max(1, CORES - len(runs)))
    if runs:  # the retrains set CI's time: this process and what it starts yield the CPU to them
        os.nice(10)  # (only ever lowered; the retrains started before, at the default priority)
    yield runs
    for run in runs.values():  # a session cut short (-x, a crash) does not wait for them
        run.stop()
    _CLOCK["relays"] = "; ".join(f"{spec}: {run.note}" for spec, run in runs.items())
    torch.set_num_threads(CORES)


def _waits_for_a_retrain(item) -> bool:
    return "retrains" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items):
    """The tests that wait for a retrain run last: the others run while it trains."""
    items.sort(key=_waits_for_a_retrain)  # stable: the rest keep their order


@pytest.fixture(scope="session", autouse=True)
def _retrains_start_first(request):
    if any(_waits_for_a_retrain(item) for item in request.session.items):
        request.getfixturevalue("retrains")


# When the rest of the suite finished beside the retrains, and when the session did: which of
# the two sets CI's time (printed at the end when a retrain ran).
_CLOCK = {"start": time.monotonic()}


def pytest_runtest_teardown(item):
    _CLOCK["retrain" if _waits_for_a_retrain(item) else "rest"] = time.monotonic()


def pytest_terminal_summary(terminalreporter):
    if "retrain" in _CLOCK:
        rest, end = (_CLOCK.get(k, _CLOCK["start"]) - _CLOCK["start"] for k in ("rest", "retrain"))
        terminalreporter.write_line(f"timing: the rest of the suite done after {rest:.0f} s, "
                                    f"the retrains' tests after {end:.0f} s ({_CLOCK.get('relays', '')})")
