"""MNIST-format data: a small IDX reader with checksums, the embedded copy, and fixed splits.

The four IDX files of MNIST ship inside the package (`budgetnet/data/mnist`, CC BY-SA 3.0,
see its README). Any directory holding the same four file names (raw or .gz) works through
`data_dir`, so other IDX datasets (Fashion-MNIST, KMNIST, ...) can be used as they are.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from budgetnet.errors import DataError

EMBEDDED = Path(__file__).parent / "mnist"
EMBEDDED_NAME = "the embedded MNIST"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
VAL_SIZE = 5_000
SPLIT_SEED = 0  # the validation split is fixed forever: results stay comparable
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _checksums(directory: Path) -> dict[str, str]:
    sums = directory / "SHA256SUMS.idx"
    if not sums.is_file():
        return {}
    pairs = (line.split() for line in sums.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def read_idx(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (optionally gzipped); a bad file raises DataError naming it."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read ({e}); truncated or not gzip?") from None
    if expected_sha256 and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise DataError(f"{path}: SHA-256 does not match SHA256SUMS.idx; the file is corrupt")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_DTYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != need:
        raise DataError(f"{path}: expected {need} data bytes for shape {dims}, found {len(raw) - header}; truncated?")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _find(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{directory / name}: file not found (also looked for .gz)")


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    y: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class Dataset:
    train: Split
    val: Split | None
    test: Split
    mean: float
    std: float
    classes: int
    name: str = EMBEDDED_NAME  # where the data came from, for messages

    @property
    def shape(self) -> list[int]:
        return list(self.test.x.shape[1:])

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


@lru_cache(maxsize=4)
def _load_arrays(directory: str) -> dict[str, np.ndarray]:
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: data directory not found")
    sums = _checksums(d)
    return {key: read_idx(_find(d, name), sums.get(name)) for key, name in FILES.items()}


def load_dataset(data_dir: str | Path | None = None, full_train: bool = False, subset: int | None = None) -> Dataset:
    """Train / validation / test splits as float tensors in [0, 1].

    The validation split is 5,000 training images chosen by a fixed permutation (seed 0);
    `full_train=True` trains on all 60,000 and has no validation split (for a final model).
    `subset=N` keeps the first N training images (smoke tests). The test set is untouched.
    """
    arrays = _load_arrays(str(Path(data_dir or EMBEDDED).resolve()))
    images, labels = arrays["train_images"], arrays["train_labels"]
    if len(images) != len(labels) or len(arrays["test_images"]) != len(arrays["test_labels"]):
        raise DataError(f"{data_dir or EMBEDDED}: image and label counts differ")

    def as_split(x: np.ndarray, y: np.ndarray) -> Split:
        t = torch.from_numpy(x.astype(np.float32) / 255.0)
        t = t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2)  # (N, C, H, W)
        return Split(t.contiguous(), torch.from_numpy(y.astype(np.int64)))

    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED)).numpy()
    if full_train:
        train, val = as_split(images, labels), None
    else:
        val_idx, train_idx = np.sort(perm[:VAL_SIZE]), np.sort(perm[VAL_SIZE:])
        train, val = as_split(images[train_idx], labels[train_idx]), as_split(images[val_idx], labels[val_idx])
    if subset:
        train = Split(train.x[:subset], train.y[:subset])
    test = as_split(arrays["test_images"], arrays["test_labels"])
    classes = int(max(labels.max(), arrays["test_labels"].max())) + 1
    name = f"the data in {data_dir}" if data_dir else EMBEDDED_NAME
    return Dataset(train, val, test, float(train.x.mean()), float(train.x.std()), classes, name)
