"""In-memory FAISS inner-product index over L2-normalised vectors, keyed by photo id.

The file on disk is only a cache of the catalog's vectors: it is stamped with the catalog's
generation and model identity, and anything that does not match exactly (stale, missing,
damaged, another model) is rebuilt from SQLite instead of trusted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStamp:
    generation: int
    identity: str
    count: int
    dim: int
    crc32: int = 0  # of the index file's bytes: a damaged file is rebuilt, never trusted


class VectorIndex:
    """Exact cosine search (inner product of unit vectors) with optional id filters."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._index.ntotal

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray | list[int]) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids) for one query vector; ``allowed`` restricts to those ids.

        The restriction happens inside the search, so k results come back whenever k allowed
        photos exist.
        """
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        with self._lock:
            k = min(k, self._index.ntotal if allowed is None else min(len(allowed), self._index.ntotal))
            if k <= 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            params = None
            if allowed is not None:
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
            scores, ids = self._index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    # -- cache file --------------------------------------------------------------------------

    def save(self, path: Path, stamp: IndexStamp) -> None:
        """Write atomically: a crash mid-write leaves the old file, which its stamp then rejects."""
        with self._lock:
            data = faiss.serialize_index(self._index)
        stamp = replace(stamp, crc32=zlib.crc32(data))
        for target, payload in ((path, data), (_stamp_path(path), json.dumps(asdict(stamp)).encode())):
            tmp = target.with_name(target.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)

    @classmethod
    def load(cls, path: Path, expected: IndexStamp) -> VectorIndex | None:
        """The cached index if it matches ``expected`` exactly, else None."""
        try:
            stamp = IndexStamp(**json.loads(_stamp_path(path).read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if replace(stamp, crc32=0) != replace(expected, crc32=0):
            log.info("vector cache %s is stale (%s != %s)", path, stamp, expected)
            return None
        try:
            data = np.fromfile(path, dtype=np.uint8)
            if zlib.crc32(data) != stamp.crc32:
                log.warning("vector cache %s is damaged (checksum mismatch); rebuilding", path)
                return None
            raw = faiss.deserialize_index(data)
        except (OSError, RuntimeError) as exc:
            log.warning("vector cache %s is damaged: %s", path, exc)
            return None
        if raw.ntotal != expected.count or raw.d != expected.dim:
            return None
        index = cls(expected.dim)
        index._index = raw  # already the concrete IndexIDMap2; a second wrapper would double-free
        return index


def _stamp_path(path: Path) -> Path:
    return path.with_suffix(".json")
