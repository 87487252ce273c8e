"""In-memory vector search over L2-normalised vectors, keyed by photo id.

Two layers (sizes and speeds measured by scripts/bench_search.py):

- the store: every vector, searched exhaustively. Up to ``EXACT_MAX`` vectors it holds them in
  float16 (FAISS scalar quantizer), what the catalog keeps, so results are exact.
- above ``EXACT_MAX``, an approximate index (FAISS IVF-PQ, 128 bytes per 512-d vector)
  proposes candidates and the store re-ranks them. IVF, unlike HNSW, takes additions and
  removals without a rebuild, which a library that changes every day needs. The store then
  drops to 8 bits per value (512 MB instead of 1 GB per million vectors): its ranking alone
  would cost recall (0.985 exhaustively, measured on realistic vectors), so its best
  ``REFINE * k`` are scored again with the exact float16 vectors read from the catalog
  (``exact_vectors``), a hundred-odd rows per query.

Filters (folder, dates) arrive as the set of allowed ids and are applied inside the search:
small sets are scored exhaustively, large ones by the approximate index restricted to them,
so a filtered query returns k results whenever k photos match.

The files on disk are only a cache of the catalog's vectors: stamped with the catalog's
generation and model identity and checksummed, and rebuilt from SQLite whenever anything
does not match.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from ..system.lock import files_locked
from ..system.private_files import write_atomic

log = logging.getLogger(__name__)

EXACT_MAX = 200_000  # exhaustive: 13.5 ms at 100k on 2 cores; past this the approximate layer is faster
SUBSET_EXACT_MAX = 50_000  # filtered queries this small are scored exhaustively
# Candidates the approximate index proposes for exact re-ranking. The PQ codes' ranking, not
# the lists probed, limits recall: at 1M realistic vectors 256 candidates give recall@60 0.91,
# 1024 give 0.97 (scripts/bench_search.py), for under a millisecond of re-ranking.
RERANK_MIN = 1024
RETRAIN_GROWTH = 4.0  # retrain the approximate index once the library has grown this much
# The 8-bit store's top REFINE * k hold the exact top k: at 1M realistic vectors, recall@60
# after exact scoring is 0.963 for the top 60, and the same as float16 re-ranking from 90 on.
REFINE = 2
SQ_SAMPLE = 64_000  # vectors that set the 8-bit store's per-dimension ranges

ExactVectors = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # ids -> (ids found, float32 rows)


@dataclass(frozen=True)
class IndexStamp:
    generation: int
    identity: str
    count: int  # filled in at save; the generation already says whether the set changed
    dim: int
    checksum: str = ""  # of the loaded index: a damaged file is rebuilt, never trusted


def _checksum(*arrays: np.ndarray) -> str:
    """Sums of 64-bit words (any flipped bit changes one) and a CRC of each array's head:
    computed on the loaded index in memory, so the file is read once; a full CRC would add
    a second at 1M photos."""
    parts = []
    for a in arrays:
        data = np.ascontiguousarray(a).view(np.uint8).reshape(-1)
        whole = len(data) // 8 * 8
        total = int(data[:whole].view(np.uint64).sum(dtype=np.uint64)) + int(data[whole:].sum())
        parts.append(f"{total:x}-{zlib.crc32(data[: 1 << 20].tobytes()):08x}-{len(data)}")
    return ",".join(parts)


def _vector_view(v: faiss.UInt8Vector | faiss.Int64Vector, dtype: type) -> np.ndarray:
    """A zero-copy NumPy view of a FAISS std::vector."""
    return faiss.rev_swig_ptr(v.data(), v.size()).view(dtype) if v.size() else np.zeros(0, dtype)


class VectorIndex:
    def __init__(self, dim: int, exact_vectors: ExactVectors | None = None) -> None:
        """``exact_vectors`` reads the stored vectors of some ids (the catalog's); without it an
        8-bit store ranks by its own values."""
        self.dim = dim
        self.exact_vectors = exact_vectors
        self._store = faiss.IndexIDMap2(
            faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        )
        self._ann: faiss.IndexIVFPQ | None = None
        self._ann_trained_at = 0
        self._last_selector: tuple[np.ndarray, faiss.IDSelectorBatch] | None = None
        self._rows: tuple[np.ndarray, np.ndarray] | None = None  # sorted ids, their rows
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._store.ntotal

    @property
    def approximate(self) -> bool:
        return self._ann is not None

    @property
    def _coarse_store(self) -> bool:
        """Whether the store holds 8-bit approximations rather than the float16 values."""
        return faiss.downcast_index(self._store.index).sq.qtype != faiss.ScalarQuantizer.QT_fp16

    # -- changes -----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            self._rows = None
            self._store.add_with_ids(vectors, ids)
            if self._ann is not None:
                self._ann.add_with_ids(vectors, ids)

    def reserve(self, n: int) -> None:
        """Room for ``n`` more vectors in the store, before a build adds them chunk by chunk.
        Grown as the chunks come, its codes were copied midway into a buffer twice the size:
        building 100,000 512-d vectors peaked 78 MB higher (440 against 362 MB in one process;
        the window's first open of such a library without its cache: scripts/bench_gui.py)."""
        with self._lock:
            inner = faiss.downcast_index(self._store.index)
            for vector, size in ((inner.codes, (len(self) + n) * inner.code_size), (self._store.id_map, len(self) + n)):
                used = vector.size()
                if size > used:
                    vector.resize(size)  # a std::vector keeps its capacity when it shrinks
                    vector.resize(used)

    def remove(self, ids: np.ndarray | list[int]) -> None:
        if len(ids) == 0:
            return
        selector = faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))
        with self._lock:
            self._rows = None
            self._store.remove_ids(selector)
            if self._ann is not None:
                self._ann.remove_ids(selector)

    def vectors(self, ids: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(the ids this index holds, their vectors) without a trip to SQLite: the float16
        values the catalog stores, or their 8-bit approximations above ``EXACT_MAX``."""
        with self._lock:
            return self._gather(np.asarray(ids, dtype=np.int64))

    # -- the approximate layer ---------------------------------------------------------------

    def ann_due(self) -> bool:
        """Whether the approximate layer should be (re)built for the current size."""
        n = len(self)
        if n <= EXACT_MAX:
            return self._ann is not None  # shrank: drop it
        return self._ann is None or n > RETRAIN_GROWTH * self._ann_trained_at

    def build_ann(self) -> None:
        """Train IVF-PQ on a sample and fill it from the store (tens of seconds at 1M); the
        first time, also move the store to 8 bits per value."""
        with self._lock:
            n = len(self)
            if n <= EXACT_MAX:
                self._ann = None
                return
            nlist = int(math.sqrt(n))
            inner = faiss.downcast_index(self._store.index)
            sample = self._sample(64 * nlist)  # 64 points per list trains the centroids well
            # 4 dimensions per PQ sub-quantizer: 128 bytes per 512-d vector.
            ann = faiss.IndexIVFPQ(faiss.IndexFlatIP(self.dim), self.dim, nlist, self.dim // 4, 8, faiss.METRIC_INNER_PRODUCT)
            ann.cp.niter = 10
            ann.train(sample)
            ids = faiss.rev_swig_ptr(self._store.id_map.data(), n).copy()
            for start in range(0, n, 100_000):
                stop = min(n, start + 100_000)
                ann.add_with_ids(inner.reconstruct_n(start, stop - start), ids[start:stop])
            ann.nprobe = 16
            self._ann, self._ann_trained_at = ann, n
            self.compact()
            log.info("built the approximate index: %d vectors, %d lists", n, nlist)

    def compact(self) -> bool:
        """Move the store of an approximate index to 8 bits per value, if it is not yet
        (caches saved before this existed hold float16); True when it changed."""
        with self._lock:
            if self._ann is None or self._coarse_store:
                return False
            self._store = self._to_8bit(self._sample(SQ_SAMPLE))
            self._rows = None
            return True

    def _sample(self, size: int) -> np.ndarray:
        """A fixed random sample of the stored vectors (at most ``size``)."""
        n = len(self)
        rows = np.sort(np.random.default_rng(0).choice(n, size=min(n, size), replace=False))
        return faiss.downcast_index(self._store.index).reconstruct_batch(rows.astype(np.int64))

    def _to_8bit(self, sample: np.ndarray) -> faiss.IndexIDMap2:
        """The store's vectors at 8 bits per value, per-dimension ranges from ``sample``."""
        inner = faiss.downcast_index(self._store.index)
        ids = _vector_view(self._store.id_map, np.int64).copy()
        coarse = faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        coarse.sq.rangestat_arg = 0.05  # 5% margin: later photos may lie a little outside the sample
        coarse.train(sample)
        store = faiss.IndexIDMap2(coarse)
        for start in range(0, len(ids), 100_000):
            stop = min(len(ids), start + 100_000)
            store.add_with_ids(inner.reconstruct_n(start, stop - start), ids[start:stop])
        return store

    # -- search ------------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids) for one query; ``allowed`` restricts to those ids."""
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        with self._lock:
            n = len(self)
            limit = n if allowed is None else min(len(allowed), n)
            k = min(k, limit)
            if k <= 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            refine = self._coarse_store and self.exact_vectors is not None
            wanted = min(limit, REFINE * k) if refine else k
            if allowed is not None and len(allowed) <= SUBSET_EXACT_MAX:
                scores, ids = self._exact_subset(q, wanted, np.asarray(allowed, dtype=np.int64))
            elif self._ann is None:
                params = None if allowed is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
                scores, ids = self._store.search(q, wanted, params=params)
                keep = ids[0] >= 0
                scores, ids = scores[0][keep], ids[0][keep]
            else:
                scores, ids = self._approximate(q, wanted, allowed, n)
        return self._refine(q, k, ids) if refine else (scores[:k], ids[:k])

    def _refine(self, q: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` of ``ids`` by their exact vectors (a vector the catalog no longer has,
        or that fails its checksum there, drops out)."""
        assert self.exact_vectors is not None
        found, vectors = self.exact_vectors(ids)
        if len(found) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        return _top(vectors @ q[0], found, k)

    def _selector(self, allowed: np.ndarray) -> faiss.IDSelectorBatch:
        """The selector for ``allowed``, reused while the same (cached, read-only) id array
        comes back: building one for 100,000 ids costs more than the search."""
        if self._last_selector is None or self._last_selector[0] is not allowed:
            self._last_selector = (allowed, faiss.IDSelectorBatch(allowed))
        return self._last_selector[1]

    def _gather(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids present in the index, their float32 vectors), read straight from the float16
        codes: 10,000 vectors in a few milliseconds, where one lookup per id took 12 ms."""
        if self._rows is None:
            id_map = _vector_view(self._store.id_map, np.int64)
            order = np.argsort(id_map, kind="stable")
            self._rows = (id_map[order], order)
        sorted_ids, order = self._rows
        pos = np.minimum(np.searchsorted(sorted_ids, ids), max(0, len(sorted_ids) - 1))
        # An id the catalog committed a moment ago may not have reached this index yet.
        present = sorted_ids[pos] == ids if len(sorted_ids) else np.zeros(len(ids), bool)
        inner = faiss.downcast_index(self._store.index)
        codes = _vector_view(inner.codes, np.uint8).reshape(-1, inner.code_size)
        # FAISS decodes float16 with SIMD; NumPy's astype took 12 ms for 10,000 vectors.
        return ids[present], inner.sa_decode(np.ascontiguousarray(codes[order[pos[present]]]))

    def _exact_subset(self, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        allowed, vectors = self._gather(allowed)
        if len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        # Multiply-and-sum rather than a BLAS product: for a thousand rows, waking the BLAS
        # thread pool cost 5 ms, the arithmetic itself well under one.
        return _top(np.einsum("ij,j->i", vectors, q[0]), allowed, k)

    def _approximate(self, q: np.ndarray, k: int, allowed: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._ann is not None
        want = max(4 * k, RERANK_MIN)
        nprobe = self._ann.nprobe
        sel = None
        if allowed is not None:
            # A filter keeps a fraction of each list: probe proportionally more lists.
            nprobe = min(self._ann.nlist, int(nprobe * n / max(1, len(allowed))) + 1)
            sel = self._selector(allowed)
        _, cand = self._ann.search(q, want, params=faiss.SearchParametersIVF(sel=sel, nprobe=nprobe))
        cand = cand[0][cand[0] >= 0]
        if len(cand) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        return self._exact_subset(q, min(k, len(cand)), cand)

    # -- cache files -------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        """Checksum of the vectors, ids and approximate index as they are in memory."""
        store = faiss.downcast_index(self._store.index)
        arrays = [_vector_view(store.codes, np.uint8), _vector_view(self._store.id_map, np.int64)]
        if self._ann is not None:
            arrays.append(faiss.serialize_index(self._ann))  # small: tens of MB at 1M
        return _checksum(*arrays)

    def save(self, path: Path, stamp: IndexStamp) -> None:
        """Write atomically: a crash mid-write leaves the old files, which their stamp rejects.
        Another process saving or loading the same cache waits (:func:`files_locked`)."""
        with self._lock:
            stamp = replace(stamp, count=len(self), checksum=self._fingerprint())
            meta = {**asdict(stamp), "ann_trained_at": self._ann_trained_at}
            with files_locked(_lock_path(path)):
                write_atomic(path, lambda tmp: faiss.write_index(self._store, str(tmp)))
                if self._ann is not None:
                    write_atomic(_ann_path(path), lambda tmp: faiss.write_index(self._ann, str(tmp)))
                else:
                    _ann_path(path).unlink(missing_ok=True)
                write_atomic(_stamp_path(path), lambda tmp: tmp.write_text(json.dumps(meta)))

    @classmethod
    def load(cls, path: Path, expected: IndexStamp, exact_vectors: ExactVectors | None = None) -> VectorIndex | None:
        """The cached index if it matches ``expected`` (generation, model, size), else None."""
        with files_locked(_lock_path(path), shared=True):
            return cls._load(path, expected, exact_vectors)

    @classmethod
    def _load(cls, path: Path, expected: IndexStamp, exact_vectors: ExactVectors | None) -> VectorIndex | None:
        try:
            meta = json.loads(_stamp_path(path).read_text())
            trained_at = int(meta.pop("ann_trained_at", 0))
            stamp = IndexStamp(**meta)
        except (OSError, ValueError, TypeError):
            return None
        if (stamp.generation, stamp.identity, stamp.dim) != (expected.generation, expected.identity, expected.dim):
            log.info("vector cache %s is stale (%s != %s)", path, stamp, expected)
            return None
        index = cls(expected.dim, exact_vectors)
        try:
            # Read straight into the index: no second copy of a gigabyte in memory.
            index._store = faiss.read_index(str(path))
            if trained_at:
                index._ann, index._ann_trained_at = faiss.read_index(str(_ann_path(path))), trained_at
        except (OSError, RuntimeError) as exc:
            log.warning("vector cache %s is unreadable: %s", path, exc)
            return None
        if index._store.d != expected.dim or len(index) != stamp.count or index._fingerprint() != stamp.checksum:
            log.warning("vector cache %s is damaged (checksum mismatch); rebuilding", path)
            return None
        return index


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (scores, ids), best first."""
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = top[np.argsort(-scores[top], kind="stable")]
    return scores[order], ids[order]


def _stamp_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _ann_path(path: Path) -> Path:
    return path.with_suffix(".ivf")


def _lock_path(path: Path) -> Path:
    return path.with_suffix(".lock")
