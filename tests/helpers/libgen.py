"""Generated photo libraries for engine and GUI tests: distinct pictures in dated sub-folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from imagegen import make_exif, write_jpeg
from PIL import Image, ImageDraw


def picture(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A distinct picture per seed: a coloured background with a few coloured shapes."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(im)
    w, h = size
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(15, w // 2)), y0 + int(rng.integers(15, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return im


def near_copy(im: Image.Image) -> Image.Image:
    """The same picture, slightly resized (as after re-saving at another size)."""
    w, h = im.size
    return im.resize((w * 9 // 10, h * 9 // 10), Image.Resampling.BICUBIC)


def write_photo(path: Path, seed: int, taken: str | None = None, size: tuple[int, int] = (160, 120)) -> Path:
    """A JPEG of ``picture(seed)``; ``taken`` ("YYYY:MM:DD HH:MM:SS") becomes DateTimeOriginal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_jpeg(path, picture(seed, size), exif=make_exif(datetime_original=taken) if taken else None)


# (relative path, seed, capture date)
LAYOUT: tuple[tuple[str, int, str | None], ...] = tuple(
    [(f"2019/Trips/trip_{i:02d}.jpg", 100 + i, f"2019:07:{i + 1:02d} 12:00:00") for i in range(8)]
    + [(f"2019/Home/home_{i:02d}.jpg", 200 + i, f"2019:12:{i + 1:02d} 09:30:00") for i in range(6)]
    + [(f"2020/home_{i:02d}.jpg", 300 + i, f"2020:03:{i + 1:02d} 18:00:00") for i in range(6)]
    + [(f"scans/scan_{i:02d}.jpg", 400 + i, None) for i in range(4)]
)


def make_library(root: Path) -> Path:
    for rel, seed, taken in LAYOUT:
        write_photo(root / rel, seed, taken)
    return root


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    """Content hash and mtime of every file under root: proof that nothing was touched."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out
