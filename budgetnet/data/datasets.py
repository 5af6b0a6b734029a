"""Data as training sees it: fixed train / validation / test splits as float tensors, and the
facts a run records about its data (shape, classes, per-channel statistics, fingerprint).

Validation is a fixed, stratified 1/12 of the training file (at least one image of every class,
and at least one left to train on), drawn with seed 0. The embedded MNIST (and any copy of it)
keeps the split every committed figure was measured on: 5,000 images by a fixed permutation,
55,000 to train. `full_train` trains on every training image (the final-model protocol).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from budgetnet.data.sources import EMBEDDED_NAME, MNIST, Arrays, resolve  # noqa: F401 (EMBEDDED_NAME, MNIST: re-exported)
from budgetnet.errors import DataError

# the embedded MNIST's fingerprint (tests/test_data.py recomputes it): its copies keep its split
MNIST_FINGERPRINT = "0fbefbeb65b22dc1cb564d112e08a08d10a8961f0e31f10fa6e647898e9c373e"
MNIST_VAL_SIZE = 5_000
VAL_SHARE = 1 / 12     # MNIST's 5,000 of 60,000
SPLIT_SEED = 0         # the validation split is fixed forever: results stay comparable


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # (N, C, H, W) float32: uint8 images / 255, float images as they are
    y: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class DataFacts:
    """What a run records about its data; `fingerprint` is what eval and check compare."""
    name: str                          # for messages: "the embedded MNIST", "the data in PATH"
    ref: str                           # what --data named: "mnist" or an absolute path
    kind: str                          # mnist | idx | npz | folder
    shape: tuple[int, int, int]        # (C, H, W)
    classes: int
    class_names: tuple[str, ...] | None
    mean: tuple[float, ...]            # per channel, over the run's training images
    std: tuple[float, ...]
    train_images: int                  # in the training file (before the validation split)
    test_images: int
    fingerprint: str

    def to_dict(self) -> dict:
        d = asdict(self)
        return d | {k: list(d[k]) for k in ("shape", "mean", "std")} | \
            {"class_names": list(self.class_names) if self.class_names else None}

    @property
    def is_mnist(self) -> bool:
        return self.fingerprint == MNIST_FINGERPRINT


@dataclass(frozen=True)
class Dataset:
    train: Split
    val: Split | None
    test: Split
    facts: DataFacts

    @property
    def mean(self) -> tuple[float, ...]:
        return self.facts.mean

    @property
    def std(self) -> tuple[float, ...]:
        return self.facts.std

    @property
    def classes(self) -> int:
        return self.facts.classes

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def shape(self) -> list[int]:
        return list(self.facts.shape)

    def refuse_mismatch(self, source: str, input_shape, classes: int) -> None:
        """One line naming both sides when a spec's input or class count does not fit this data,
        before anything is built or trained."""
        wrong = []
        if list(input_shape) != self.shape:
            wrong.append(f"input {list(input_shape)} (the data's images are {self.shape})")
        if classes != self.classes:
            wrong.append(f"classes {classes} (the data has {self.classes})")
        if wrong:
            raise DataError(f"{source}: the spec does not fit {self.name}: " + "; ".join(wrong))


def normalizer(mean, std, device=None) -> tuple:
    """The statistics as `normalize` uses them: plain floats for one channel (or a run recorded
    before per-channel statistics), exactly as every committed MNIST run divided; (1, C, 1, 1)
    tensors on `device` otherwise. Call it once, outside a training loop."""
    if isinstance(mean, (int, float)):
        return mean, std
    if len(mean) == 1:
        return mean[0], std[0]
    return (torch.tensor(mean, device=device).view(1, -1, 1, 1), torch.tensor(std, device=device).view(1, -1, 1, 1))


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """(x - mean) / std per channel; `mean` and `std` as `normalizer` gives them, or as recorded."""
    if not isinstance(mean, (int, float, torch.Tensor)):
        mean, std = normalizer(mean, std, x.device)
    return (x - mean) / std


def validation_indices(y: np.ndarray, mnist_split: bool) -> np.ndarray:
    """Sorted indices of the fixed validation split of a training file with labels y."""
    gen = torch.Generator().manual_seed(SPLIT_SEED)
    if mnist_split:
        return np.sort(torch.randperm(len(y), generator=gen).numpy()[:MNIST_VAL_SIZE])
    picked = []
    for c in range(int(y.max()) + 1):
        members = np.flatnonzero(y == c)
        if len(members) < 2:
            raise DataError(f"class {c} has {len(members)} training image(s); a validation split needs at "
                            "least 2 per class (one to validate, one to train), or use --full-train")
        take = min(len(members) - 1, max(1, round(len(members) * VAL_SHARE)))
        picked.append(members[torch.randperm(len(members), generator=gen).numpy()[:take]])
    return np.sort(np.concatenate(picked))


def _split(x: np.ndarray, y: np.ndarray) -> Split:
    # numpy's float32 division, as every committed run computed it (bit for bit)
    t = torch.from_numpy(x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32))
    return Split(t.contiguous(), torch.from_numpy(y))


def _stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if x.shape[1] == 1:  # the whole tensor, as every single-channel run before computed it
        return (float(x.mean()),), (float(x.std()),)
    return tuple(x.mean(dim=(0, 2, 3)).tolist()), tuple(x.std(dim=(0, 2, 3)).tolist())


def load_dataset(data: str | Path | None = None, full_train: bool = False, subset: int | None = None) -> Dataset:
    """The splits of the data `data` names (None or "mnist": the embedded MNIST; see
    budgetnet.data.sources). `full_train` trains on every training image and has no validation
    split; `subset=N` keeps the first N training images (smoke tests). The test set is untouched."""
    a: Arrays = resolve(data)
    if full_train:
        train, val = _split(a.x_train, a.y_train), None
    else:
        val_idx = validation_indices(a.y_train, a.fingerprint == MNIST_FINGERPRINT)
        keep = np.ones(len(a.y_train), dtype=bool)
        keep[val_idx] = False
        train_idx = np.flatnonzero(keep)
        train, val = _split(a.x_train[train_idx], a.y_train[train_idx]), _split(a.x_train[val_idx], a.y_train[val_idx])
    if subset:
        train = Split(train.x[:subset], train.y[:subset])
    test = _split(a.x_test, a.y_test)
    mean, std = _stats(train.x)
    facts = DataFacts(a.name, a.ref, a.kind, tuple(a.x_train.shape[1:]), a.classes, a.class_names, mean, std,
                      len(a.y_train), len(a.y_test), a.fingerprint)
    return Dataset(train, val, test, facts)


def validation_size(data: str | Path | None = None) -> int:
    """Images in the fixed validation split of the data `data` names."""
    a = resolve(data)
    return len(validation_indices(a.y_train, a.fingerprint == MNIST_FINGERPRINT))


def describe(data: str | Path | None = None) -> DataFacts:
    """The facts of the data `data` names, statistics over the whole training file."""
    return load_dataset(data, full_train=True).facts

