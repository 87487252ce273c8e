"""Embeds pending photos: decode threads feed batched inference on every core.

Decoding and preprocessing (Pillow and NumPy release the GIL) run in a pool of decode
threads. On a CPU, inference runs as one single-threaded stream per core, each on its own
batch: independent batches scale with the cores, where one stream with several intra-op
threads spends time synchronising. The calling thread only routes work and commits results
every few hundred photos, so a cancel or a kill loses at most the uncommitted batches, which
the next run redoes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import VECTOR_DTYPE, Catalog
from .fingerprint import fingerprint
from .loader import LoadError, load_image
from .models.base import Embedder
from .records import PhotoMeta, Progress

log = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class PipelineOptions:
    batch_size: int | None = None  # default: the model's cpu_batch_size on a CPU, 64 on a GPU
    decode_workers: int = CORES
    model_workers: int | None = None  # inference streams; default: one per core on CPU, one on a GPU
    commit_every: int = 256  # photos
    commit_seconds: float = 5.0  # or this long, whichever comes first


@dataclass(frozen=True)
class _Decoded:
    photo_id: int
    fingerprint: str | None
    array: np.ndarray | None = None
    meta: PhotoMeta | None = None
    error: str | None = None


def _decode(root: Path, photo_id: int, rel: str, embedder: Embedder) -> _Decoded:
    path = root / rel
    fp = None
    try:
        fp = fingerprint(path)
        loaded = load_image(path, min_side=embedder.input_size)
        return _Decoded(photo_id, fp, embedder.preprocess(loaded.image), loaded.meta)
    except LoadError as exc:
        return _Decoded(photo_id, fp, error=exc.reason)
    except FileNotFoundError:
        return _Decoded(photo_id, fp, error="The file disappeared while it was being indexed")
    except OSError as exc:
        return _Decoded(photo_id, fp, error=f"Cannot be read: {exc.strerror or exc}")


@dataclass
class PipelineResult:
    embedded: int = 0
    skipped: int = 0
    cancelled: bool = False


class _Run:
    """State of one ``embed_pending`` call."""

    def __init__(
        self,
        catalog: Catalog,
        total: int,
        on_committed: Callable[[np.ndarray, np.ndarray], None],
        progress: ProgressCallback | None,
        options: PipelineOptions,
    ) -> None:
        self.catalog = catalog
        self.total = total
        self.on_committed = on_committed
        self.progress = progress
        self.options = options
        self.result = PipelineResult()
        self.embedded: list[tuple[int, np.ndarray, PhotoMeta, str | None]] = []
        self.skipped: list[tuple[int, str, str | None]] = []
        self.done = 0
        self.start = self.last_commit = time.perf_counter()

    def report(self, phase: str = "embedding") -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.progress(Progress(done=self.done, total=self.total, rate=rate, eta_s=eta, phase=phase))

    def add_batch(self, batch: list[_Decoded], vectors: np.ndarray) -> None:
        for d, vec in zip(batch, vectors):
            self.embedded.append((d.photo_id, vec, d.meta, d.fingerprint))  # type: ignore[arg-type]
        self.done += len(batch)
        self.maybe_commit()
        self.report()

    def add_skipped(self, d: _Decoded) -> None:
        log.info("skipped photo %d: %s", d.photo_id, d.error)
        self.skipped.append((d.photo_id, d.error or "Unknown problem", d.fingerprint))
        self.done += 1

    def maybe_commit(self) -> None:
        pending = len(self.embedded) + len(self.skipped)
        if pending >= self.options.commit_every or time.perf_counter() - self.last_commit >= self.options.commit_seconds:
            self.commit()

    def commit(self) -> None:
        if not self.embedded and not self.skipped:
            return
        self.catalog.store_batch(self.embedded, self.skipped)
        if self.embedded:
            ids = np.fromiter((e[0] for e in self.embedded), dtype=np.int64, count=len(self.embedded))
            # The index holds exactly what SQLite holds (float16), so a rebuild changes nothing.
            vecs = np.stack([e[1] for e in self.embedded]).astype(VECTOR_DTYPE).astype(np.float32)
            self.on_committed(ids, vecs)
        self.result.embedded += len(self.embedded)
        self.result.skipped += len(self.skipped)
        self.embedded.clear()
        self.skipped.clear()
        self.last_commit = time.perf_counter()


def embed_pending(
    catalog: Catalog,
    root: Path,
    jobs: Sequence[tuple[int, str]],
    embedder: Embedder,
    on_committed: Callable[[np.ndarray, np.ndarray], None],
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    options: PipelineOptions = PipelineOptions(),
) -> PipelineResult:
    """Embed ``jobs`` (photo id, relative path) and store the results batch by batch.

    ``on_committed(ids, vectors)`` is called after each commit, so the in-memory index only
    ever holds committed vectors.
    """
    on_cpu = embedder.device == "cpu"
    streams = options.model_workers or (CORES if on_cpu else 1)
    batch_size = options.batch_size or (embedder.cpu_batch_size if on_cpu else 64)
    run = _Run(catalog, len(jobs), on_committed, progress, options)
    run.report()
    decode_pool = ThreadPoolExecutor(max_workers=options.decode_workers, thread_name_prefix="decode")
    model_pool = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="model")
    decoding: deque[Future[_Decoded]] = deque()
    encoding: deque[tuple[list[_Decoded], Future[np.ndarray]]] = deque()
    window = batch_size * (streams + 1)  # enough decoded ahead to keep every stream fed
    job_iter = iter(jobs)
    ready: list[_Decoded] = []

    def refill() -> None:
        while len(decoding) < window:
            job = next(job_iter, None)
            if job is None:
                return
            decoding.append(decode_pool.submit(_decode, root, job[0], job[1], embedder))

    def submit(batch: list[_Decoded]) -> None:
        arrays = np.stack([d.array for d in batch])  # type: ignore[misc]
        encoding.append((batch, model_pool.submit(embedder.encode_arrays, arrays)))

    def collect(block: bool) -> None:
        while encoding and (block or encoding[0][1].done()):
            batch, future = encoding.popleft()
            run.add_batch(batch, future.result())
            block = False

    threads = max(1, CORES // streams) if on_cpu else CORES
    try:
        with embedder.cpu_threads(threads):
            refill()
            while decoding:
                if cancel is not None and cancel.is_set():
                    run.result.cancelled = True
                    break
                decoded = decoding.popleft().result()
                refill()
                if decoded.error is not None:
                    run.add_skipped(decoded)
                    run.maybe_commit()
                else:
                    ready.append(decoded)
                if len(ready) >= batch_size:
                    submit(ready)
                    ready = []
                collect(block=len(encoding) > streams)
            if ready and not run.result.cancelled:
                submit(ready)
            while encoding:
                collect(block=True)
            run.commit()
            run.report("finishing")
    finally:
        decode_pool.shutdown(wait=True, cancel_futures=True)
        model_pool.shutdown(wait=True, cancel_futures=True)
    return run.result
