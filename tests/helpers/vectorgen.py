"""Constructed embeddings for the duplicate, search and evaluation tests: unit vectors at an
exact cosine to one another, and catalogs whose photos hold exactly those vectors (no files,
no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photosearch_desktop.engine.records import PhotoMeta
from photosearch_desktop.engine.store.catalog import Catalog


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def at_angle(base: np.ndarray, other: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at exactly ``cosine`` to unit ``base``, towards ``other``."""
    ortho = unit(other - (other @ base) * base)
    return unit(cosine * base + np.sqrt(1 - cosine**2) * ortho)


def constructed_catalog(
    path: Path, vectors: np.ndarray, metas: list[PhotoMeta] | None = None, sizes: list[int] | None = None
) -> tuple[Catalog, dict[str, int]]:
    """A catalog whose photos p00.jpg, p01.jpg, ... have exactly these vectors (no files)."""
    catalog = Catalog(path)
    n, dim = vectors.shape
    catalog.set_model("constructed", "constructed", dim)
    sizes = sizes or [1000] * n
    catalog.apply_changes([(f"p{i:02d}.jpg", sizes[i], 1, None) for i in range(n)], [], [], [], [])
    metas = metas or [PhotoMeta(100, 100)] * n
    ids = {rel: pid for pid, rel in catalog.pending()}
    catalog.store_batch([(ids[f"p{i:02d}.jpg"], vectors[i], metas[i], None) for i in range(n)], [])
    return catalog, ids
