"""Where a checkpoint's figures come from: the data or corpus it records, found again and proven
the same by fingerprint before it is scored, exported or sampled."""
from __future__ import annotations

from pathlib import Path

from budgetnet.data.datasets import EMBEDDED_NAME, MNIST, MNIST_FINGERPRINT, Dataset, load_dataset
from budgetnet.data.text import TINYSHAKESPEARE, TextData, load_text
from budgetnet.errors import CheckpointError, DataError


def recorded_data(path: str | Path, metrics: dict, data: str | Path | None = None) -> tuple[Dataset, list[str]]:
    """The data a checkpoint is scored on: the data it records, or `data` when given, which is
    refused (DataError) unless its fingerprint is the recorded one. A checkpoint written before
    runs recorded their data is taken as the embedded MNIST, and a note says so."""
    notes = []
    recorded = metrics.get("data")
    if recorded is None:
        notes.append(f"{path} records no data (written before runs recorded it): taken as {EMBEDDED_NAME}")
        recorded = {"ref": MNIST, "name": EMBEDDED_NAME, "fingerprint": MNIST_FINGERPRINT}
    dataset = load_dataset(_recorded_ref(path, recorded, data, MNIST))
    _refuse_other_data(path, recorded, dataset.name, dataset.facts.fingerprint)
    return dataset, notes


def recorded_text(path: str | Path, metrics: dict, data: str | Path | None = None) -> TextData:
    """The corpus a text checkpoint records, or `data` when given, refused (DataError) unless it is
    the same corpus (fingerprint) with the checkpoint's vocabulary."""
    recorded = metrics.get("data") or {}
    if "vocab" not in recorded:
        raise CheckpointError(f"{path}: a text model whose checkpoint records no corpus")
    corpus = load_text(_recorded_ref(path, recorded, data, TINYSHAKESPEARE))
    if corpus.facts.vocab != recorded["vocab"]:
        raise DataError(f"{path}: its vocabulary ({len(recorded['vocab'])} symbols) differs from {corpus.name}'s "
                        f"({corpus.vocab} symbols)")
    _refuse_other_data(path, recorded, corpus.name, corpus.facts.fingerprint)
    return corpus


def _recorded_ref(path, recorded: dict, data, embedded: str):
    """`data` when given, else what the checkpoint records (refused when that file is gone)."""
    if data is not None:
        return data
    if recorded["ref"] != embedded and not Path(recorded["ref"]).exists():
        raise DataError(f"{path}: trained on {recorded['name']}, which is not there any more; "
                        "give the same data with --data")
    return recorded["ref"]


def _refuse_other_data(path, recorded: dict, name: str, fingerprint: str) -> None:
    if fingerprint != recorded["fingerprint"]:
        raise DataError(f"{path}: trained on {recorded['name']} (fingerprint {recorded['fingerprint'][:12]}), not on "
                        f"{name} (fingerprint {fingerprint[:12]}); scoring it there would be meaningless")
