"""Look-alike pictures for the near-duplicate tests: a textured scene per seed, and edited
copies of a picture (resized, cropped, brighter, flipped, rotated...)."""

from __future__ import annotations

import numpy as np
from imagegen import noise
from PIL import Image, ImageDraw, ImageEnhance, ImageOps


def scene(seed: int, size: tuple[int, int] = (480, 360), background: int | None = None) -> Image.Image:
    """A textured picture: smooth colour noise with a few shapes on it."""
    im = noise(size, seed=seed if background is None else background)
    draw = ImageDraw.Draw(im)
    rng = np.random.default_rng(seed)
    w, h = size
    for _ in range(5):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x0, y0, x0 + int(rng.integers(30, 120)), y0 + int(rng.integers(30, 120))), fill=colour)
    return im


def copies(im: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    return {
        "resize50": im.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "crop10": im.crop((w // 40, h // 40, w - w // 40, h - h // 40)),
        "crop25": im.crop((w // 15, h // 15, w - w // 15, h - h // 15)),
        "brightness": ImageEnhance.Brightness(im).enhance(1.3),
        "contrast": ImageEnhance.Contrast(im).enhance(0.7),
        "flip": ImageOps.mirror(im),
        "rotate5": im.rotate(5, resample=Image.Resampling.BICUBIC),
    }
