"""A small synthetic colour dataset the tests write as .npz and as an image folder: 3x32x32,
5 classes, each a coloured shape at a random place on noise (learnable in an epoch or two)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("circle", "cross", "square", "stripes", "triangle")  # sorted: the folder's class order


def images(n: int, seed: int, side: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(n, side, side, 3) uint8 images and labels 0..4, every class present."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    rng.shuffle(y)
    x = rng.integers(0, 60, size=(n, side, side, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:side, :side]
    for i, label in enumerate(y):
        cy, cx = rng.integers(side // 4, 3 * side // 4, size=2)
        r = side // 6
        if label == 0:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif label == 1:
            mask = ((abs(yy - cy) <= 1) & (abs(xx - cx) <= r)) | ((abs(xx - cx) <= 1) & (abs(yy - cy) <= r))
        elif label == 2:
            mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
        elif label == 3:
            mask = (yy % 4 < 2)
        else:
            mask = (yy - cy <= r) & (yy - cy >= abs(xx - cx) - r)
        colour = np.array([200, 80, 40]) if label % 2 else np.array([40, 120, 220])
        x[i][mask] = colour
    return x, y.astype(np.int64)


def write_npz(path: Path, train: int = 300, test: int = 100, **extra) -> Path:
    x_train, y_train = images(train, 0)
    x_test, y_test = images(test, 1)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test) | extra
    np.savez(path, **arrays)
    return path


def write_folder(root: Path, train: int = 150, test: int = 50) -> Path:
    from PIL import Image

    for split, (x, y) in (("train", images(train, 0)), ("test", images(test, 1))):
        for name in CLASSES:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(zip(x, y)):
            Image.fromarray(img).save(root / split / CLASSES[label] / f"{i:04d}.png")
    return root
