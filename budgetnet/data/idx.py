"""The IDX format (MNIST's, and Fashion-MNIST's, KMNIST's ...): a small reader with checksums."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from budgetnet.errors import DataError

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def checksums(directory: Path) -> dict[str, str]:
    """SHA256SUMS.idx beside the files (file name -> digest of its uncompressed bytes), if any."""
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


def find(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{directory / name}: file not found (also looked for .gz)")


def read_dir(directory: Path) -> dict[str, np.ndarray]:
    """The four arrays of an IDX directory, each checked against SHA256SUMS.idx where it exists."""
    sums = checksums(directory)
    return {key: read_idx(find(directory, name), sums.get(name)) for key, name in FILES.items()}
