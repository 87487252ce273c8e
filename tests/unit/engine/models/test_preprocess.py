"""The model inputs read from lookup tables equal the float arithmetic they replace, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photosearch_desktop.engine.models.preprocess import ClipPreprocess, EfficientNetPreprocess

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def _photo(side: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8))


def _channels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1)


@pytest.mark.parametrize("seed", range(3))
def test_clip_input_equals_open_clip_arithmetic(seed: int) -> None:
    image = _photo(256, seed)  # already the model's size: no resampling, only the normalising
    mean, std = (np.asarray(v, dtype=np.float32).reshape(3, 1, 1) for v in (MEAN, STD))
    got = ClipPreprocess(256, MEAN, STD)(image)
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    assert np.array_equal(got, (_channels(image) / 255.0 - mean) / std)


@pytest.mark.parametrize("seed", range(3))
def test_efficientnet_input_equals_its_arithmetic(seed: int) -> None:
    image = _photo(260, seed)
    got = EfficientNetPreprocess(260)(image)
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    assert np.array_equal(got, (_channels(image) - 127.0) / 128.0)


def test_every_grey_level_of_every_channel_is_looked_up() -> None:
    # One pixel per level and channel: a table off by one row or level shows here.
    levels = np.stack([np.roll(np.arange(256, dtype=np.uint8), 85 * c) for c in range(3)], axis=-1)
    image = Image.fromarray(np.tile(levels[None, :, :], (256, 1, 1)))
    mean, std = (np.asarray(v, dtype=np.float32).reshape(3, 1, 1) for v in (MEAN, STD))
    assert np.array_equal(ClipPreprocess(256, MEAN, STD)(image), (_channels(image) / 255.0 - mean) / std)
