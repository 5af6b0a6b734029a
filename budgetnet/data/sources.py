"""One resolver for every image data format `--data` accepts, and the checks they all share.

- `mnist` (or nothing): the embedded MNIST (`budgetnet/data/mnist`, verified by its checksums);
- a directory of IDX files with MNIST's four file names, raw or .gz (Fashion-MNIST, KMNIST, ...);
- a `.npz` with x_train, y_train, x_test, y_test: uint8 or float images shaped (N, H, W),
  (N, H, W, C) or (N, C, H, W), integer labels 0..K-1 (read with allow_pickle=False);
- an image folder: `train/` and `test/`, one subfolder per class (torchvision's ImageFolder
  layout: class names sorted), PNG or JPEG read with Pillow, grayscale or RGB kept as they are.

Every format ends as the same `Arrays`: images (N, C, H, W) as uint8 or float32, labels int64,
and a fingerprint (SHA-256 over the arrays and class names, so the same images in IDX, .gz or
.npz form are the same data). Bad data is one DataError line naming the file and the problem.
"""
from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from budgetnet.data import idx
from budgetnet.errors import DataError

EMBEDDED = Path(__file__).parent / "mnist"
EMBEDDED_NAME = "the embedded MNIST"
MNIST = "mnist"
KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FORMATS_HELP = "mnist, an IDX directory, a .npz file, or an image folder with train/ and test/"


@dataclass(frozen=True)
class Arrays:
    x_train: np.ndarray            # (N, C, H, W) uint8 or float32
    y_train: np.ndarray            # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    kind: str                      # mnist | idx | npz | folder
    ref: str                       # what names the data: "mnist" or an absolute path
    class_names: tuple[str, ...] | None = None
    skipped: int = 0               # files in an image folder without an image extension
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return EMBEDDED_NAME if self.kind == MNIST else f"the data in {self.ref}"

    @property
    def classes(self) -> int:
        return len(self.class_names) if self.class_names else int(self.y_train.max()) + 1


def resolve(data: str | Path | None) -> Arrays:
    """The arrays `--data` names (cached while its files keep their names, sizes and times)."""
    if data is None or str(data) == MNIST:
        return _cached(MNIST, ())
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(f"{data}: not found; --data takes {FORMATS_HELP}")
    return _cached(str(path.resolve()), _signature(path))


def _signature(path: Path) -> tuple:
    """Name, size and modification time of the file, or of every file under the folder."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@lru_cache(maxsize=4)
def _cached(ref: str, signature: tuple) -> Arrays:
    if ref == MNIST:
        return _checked(idx.read_dir(EMBEDDED), MNIST, MNIST, EMBEDDED_NAME)
    path = Path(ref)
    if path.is_file() and path.suffix == ".npz":
        return _checked(_read_npz(path), "npz", ref, str(path))
    if path.is_dir() and (path / "train").is_dir():
        arrays, names, skipped = _read_folder(path)
        return _checked(arrays, "folder", ref, str(path), names, skipped)
    if path.is_dir():
        return _checked(idx.read_dir(path), "idx", ref, str(path))
    raise DataError(f"{path}: not a data format budgetnet reads; --data takes {FORMATS_HELP}")


# ------------------------------------------------------------------------------ formats
def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise DataError(f"{path}: missing key {missing[0]!r} (a .npz needs {', '.join(KEYS)})")
            return {k: z[k] for k in KEYS}
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickle: refused
        raise DataError(f"{path}: cannot read an array ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz ({e})") from None


def _read_folder(root: Path) -> tuple[dict[str, np.ndarray], tuple[str, ...], int]:
    """train/<class>/*.png|jpg and test/<class>/..., class names sorted (ImageFolder's order)."""
    from PIL import Image, UnidentifiedImageError

    names = tuple(sorted(d.name for d in (root / "train").iterdir() if d.is_dir()))
    if not names:
        raise DataError(f"{root / 'train'}: no class folders (expected train/<class>/*.png)")
    if not (root / "test").is_dir():
        raise DataError(f"{root / 'test'}: not found (an image folder needs train/ and test/)")
    extra = sorted(d.name for d in (root / "test").iterdir() if d.is_dir() and d.name not in names)
    if extra:
        raise DataError(f"{root / 'test' / extra[0]}: a class that train/ does not have")
    first: dict = {}  # size and mode of the first image: every other must match it
    skipped = 0
    out = {}
    for split in ("train", "test"):
        images, labels = [], []
        for label, name in enumerate(names):
            folder = root / split / name
            files = sorted(f for f in folder.iterdir() if f.is_file()) if folder.is_dir() else []
            kept = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
            skipped += len(files) - len(kept)
            if not kept and split == "train":
                raise DataError(f"{folder}: an empty class folder (no .png / .jpg images)")
            for f in kept:
                try:
                    with Image.open(f) as im:
                        im.load()
                        im = im.convert("RGB") if im.mode in ("P", "RGBA", "CMYK") else \
                            im.convert("L") if im.mode in ("LA", "I;16", "I", "1") else im
                        if im.mode not in ("L", "RGB"):
                            raise DataError(f"{f}: image mode {im.mode} (budgetnet reads grayscale or RGB)")
                        a = np.asarray(im, dtype=np.uint8)
                except (UnidentifiedImageError, OSError, SyntaxError) as e:
                    raise DataError(f"{f}: not a readable image ({e.__class__.__name__}); corrupt?") from None
                a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
                if not first:
                    first.update(shape=a.shape, file=f)
                elif a.shape != first["shape"]:
                    raise DataError(f"{f}: {_describe(a.shape)}, but {first['file']} is {_describe(first['shape'])}; "
                                    "every image of a folder must have one size and colour mode")
                images.append(a)
                labels.append(label)
        if not images:
            raise DataError(f"{root / split}: no images")
        out[f"x_{split}"], out[f"y_{split}"] = np.stack(images), np.asarray(labels, dtype=np.int64)
    return out, names, skipped


def _describe(shape) -> str:
    c, h, w = shape
    return f"{w}x{h} {'grayscale' if c == 1 else 'RGB'}"


# ------------------------------------------------------------------------------ checks
def _images(x: np.ndarray, key: str, source: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3 -> (N, C, H, W)."""
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{source}: {key} has dtype {x.dtype}; images must be uint8 or float")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim == 4 and x.shape[1] in (1, 3):
        pass
    elif x.ndim == 4 and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{source}: {key} has shape {list(x.shape)}; expected (N, H, W), (N, H, W, C) or "
                        "(N, C, H, W) with 1 or 3 channels")
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise DataError(f"{source}: {key} holds NaN or infinite values")
    return np.ascontiguousarray(x)


def _labels(y: np.ndarray, key: str, source: str) -> np.ndarray:
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
        raise DataError(f"{source}: {key} must be a 1-D array of integer labels, got {y.dtype} {list(y.shape)}")
    return y.astype(np.int64)


def _checked(raw: dict[str, np.ndarray], kind: str, ref: str, source: str,
             class_names: tuple[str, ...] | None = None, skipped: int = 0) -> Arrays:
    a = {}
    for split in ("train", "test"):
        x, y = raw[f"x_{split}"], raw[f"y_{split}"]
        if len(x) != len(y):
            raise DataError(f"{source}: x_{split} has {len(x):,} images but y_{split} has {len(y):,} labels")
        if len(x) == 0:
            raise DataError(f"{source}: x_{split} is empty")
        a[f"x_{split}"], a[f"y_{split}"] = _images(x, f"x_{split}", source), _labels(y, f"y_{split}", source)
    if a["x_train"].shape[1:] != a["x_test"].shape[1:]:
        raise DataError(f"{source}: training images are {list(a['x_train'].shape[1:])} but test images "
                        f"{list(a['x_test'].shape[1:])}")
    y_train, y_test = a["y_train"], a["y_test"]
    if y_train.min() < 0 or y_test.min() < 0:
        raise DataError(f"{source}: negative label {min(y_train.min(), y_test.min())}; labels must be 0..K-1")
    k = len(class_names) if class_names else int(y_train.max()) + 1
    missing = sorted(set(range(k)) - set(np.unique(y_train).tolist()))
    if missing:
        raise DataError(f"{source}: labels skip classes: {missing[0]} never occurs in y_train "
                        f"(labels must be 0..{k - 1}, each present)")
    if y_test.max() >= k:
        raise DataError(f"{source}: label {int(y_test.max())} in y_test is out of range 0..{k - 1} (y_train's classes)")
    return Arrays(**a, kind=kind, ref=ref, class_names=class_names, skipped=skipped,
                  fingerprint=fingerprint(a, class_names))


def fingerprint(arrays: dict[str, np.ndarray], class_names: tuple[str, ...] | None = None) -> str:
    """SHA-256 over the four arrays (dtype, shape, bytes) and the class names."""
    h = hashlib.sha256()
    for key in KEYS:
        x = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{x.dtype.str}:{list(x.shape)};".encode())
        h.update(memoryview(x).cast("B"))
    h.update(("classes:" + "\x00".join(class_names or ())).encode())
    return h.hexdigest()
