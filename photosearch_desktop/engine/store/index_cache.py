"""The vector index of one catalog: loaded or built once, kept in step, saved as a cache.

The catalog is the source of truth and the FAISS file next to it a cache: it is trusted only
when its stamp (the catalog's generation, the model identity, a checksum) matches, and is
rebuilt from SQLite otherwise. Changes to the catalog's vectors and to the loaded index happen
under one lock (:meth:`IndexCache.changing`), so a search in another thread never sees a
catalog newer than its index, which would make it reload the index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..system.memory import release_free_memory
from .catalog import VECTOR_DTYPE, Catalog
from .vector_index import IndexStamp, VectorIndex

log = logging.getLogger(__name__)


class IndexCache:
    def __init__(self, catalog: Catalog, path: Path, notify: Callable[[str], None], readonly: bool = False) -> None:
        self.catalog = catalog
        self.path = path
        self.readonly = readonly
        self._notify = notify
        self._index: VectorIndex | None = None
        self._generation = -1
        self._lock = threading.RLock()  # sync() is called inside changing()

    def reset(self, catalog: Catalog) -> None:
        """Forget the loaded index: ``catalog`` replaces a damaged one, or the model changed."""
        with self._lock:
            self.catalog, self._index, self._generation = catalog, None, -1

    @property
    def loaded(self) -> bool:
        return self._index is not None

    def get(self) -> VectorIndex:
        """The in-memory index, loaded or rebuilt when another process changed the catalog."""
        with self._lock:
            generation = self.catalog.generation
            if self._index is not None and self._generation == generation:
                return self._index
            stamp = self._stamp()
            index = VectorIndex.load(self.path, stamp, self._exact_vectors)
            rebuilt = index is None
            if index is None:
                index = self._build(stamp)
            self._index, self._generation = index, stamp.generation
            if rebuilt or index.compact():  # compact: a cache of an earlier version, float16 store
                self._save_locked()
            release_free_memory()
            return index

    def _build(self, stamp: IndexStamp) -> VectorIndex:
        log.info("building the vector index from the catalog (generation %d)", stamp.generation)
        index = VectorIndex(stamp.dim or 1, self._exact_vectors)
        index.reserve(self.catalog.counts()["indexed"])
        for ids, vectors in self.catalog.iter_vectors(chunk=10_000):  # 20 MB at a time, not 100
            index.add(ids, vectors)
        if index.ann_due():
            index.build_ann()
        if self.catalog.damaged_vector_ids:
            self._notify(
                f"{len(self.catalog.damaged_vector_ids)} photo(s) have a damaged vector in the catalog "
                "(it failed its checksum) and are left out of searches until the index is updated."
            )
        return index

    @contextmanager
    def changing(self) -> Iterator[VectorIndex | None]:
        """Change the catalog's vectors and the loaded index (given, if there is one) together;
        call :meth:`sync` inside once the index holds the same change."""
        with self._lock:
            yield self._index

    def add(self, index: VectorIndex, ids: list[int], vectors: list[np.ndarray]) -> None:
        """Add what the catalog just stored, as it stored it (float16): a rebuild changes nothing."""
        index.add(np.asarray(ids, dtype=np.int64), np.stack(vectors).astype(VECTOR_DTYPE).astype(np.float32))

    def sync(self) -> None:
        """The loaded index already holds the catalog's latest changes."""
        with self._lock:
            if self._index is not None:
                self._generation = self.catalog.generation

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        if self._index is None or self.readonly:
            return
        if self._index.ann_due():
            self._index.build_ann()
        try:
            self._index.save(self.path, self._stamp())
        except OSError as exc:
            # The cache is optional: the next start rebuilds it from the catalog.
            log.warning("could not save the vector cache %s: %s", self.path, exc)

    def _stamp(self) -> IndexStamp:
        return IndexStamp(
            generation=self.catalog.generation,
            identity=f"{self.catalog.catalog_id}/{self.catalog.get_meta('model_identity') or ''}",
            count=0,  # the index fills it in at save; COUNT(*) would cost a second at 1M
            dim=int(self.catalog.get_meta("dim") or 0),
        )

    def _exact_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The catalog's vectors for the index's final, exact scoring (see vector_index.py)."""
        return self.catalog.vectors(ids.tolist())
