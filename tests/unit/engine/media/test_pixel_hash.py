"""The perceptual hash of a picture's pixels (engine/media/pixel_hash.py)."""

from __future__ import annotations

import numpy as np
from lookalikes import copies, scene
from PIL import ImageOps

from photosearch_desktop.engine.duplicates.finder import COPY_HASH_MAX


def test_perceptual_hash_keeps_copies_close_and_other_pictures_far() -> None:
    from photosearch_desktop.engine.media.pixel_hash import hash_distance, perceptual_hash

    original = scene(7)
    h = perceptual_hash(original)
    same_framing = ("resize50", "resize25", "jpeg30", "brightness", "contrast")
    for name, im in copies(original).items():
        d = int(hash_distance(h, perceptual_hash(im))[0])
        if name in same_framing:
            assert d <= COPY_HASH_MAX // 2, name
    assert int(hash_distance(h, perceptual_hash(ImageOps.mirror(original)))[0]) > COPY_HASH_MAX
    others = [perceptual_hash(scene(seed)) for seed in range(20, 30)]
    assert all(int(d) > COPY_HASH_MAX for d in hash_distance(np.array(others[:5]), np.array(others[5:])))
    assert hash_distance(h, h)[0] == 0 and isinstance(h, int) and -(2**63) <= h < 2**63
