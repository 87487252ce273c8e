"""A 64-bit perceptual hash of a picture, cheap enough to compute for every photo indexed."""

from __future__ import annotations

import numpy as np
from PIL import Image

HASH_SIDE = 32  # the picture is shrunk to this square before its DCT
HASH_BLOCK = 8  # the lowest 8 x 8 frequencies give the 64 bits


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    return np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)).astype(np.float32)


_DCT = _dct_matrix(HASH_SIDE)


def perceptual_hash(image: Image.Image) -> int:
    """A 64-bit DCT hash (pHash): which of the lowest spatial frequencies lie above their median.

    Resizing, re-encoding and brightness or contrast changes leave it within a few bits; a
    different picture differs in about half of them. Computed at index time from the photo
    already decoded, it spares the duplicate finder decoding photos that cannot be copies of
    each other. Returned as a signed 64-bit integer (SQLite's INTEGER).
    """
    grey = np.asarray(image.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX).convert("L"), dtype=np.float32)
    low = (_DCT @ grey @ _DCT.T)[:HASH_BLOCK, :HASH_BLOCK].reshape(-1)
    bits = np.packbits(low > np.median(low))
    return int(np.frombuffer(bits.tobytes(), dtype=">i8")[0])


def hash_distance(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Differing bits between perceptual hashes (element-wise for arrays)."""
    x = np.bitwise_xor(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)).view(np.uint64)
    return np.unpackbits(np.atleast_1d(x).view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
