"""Embeds pending photos: a pool of decode threads feeds batched inference.

Decoding (Pillow releases the GIL) and preprocessing run in worker threads; the calling
thread stacks ready arrays into batches for the model and commits results every few hundred
photos. A cancel or a kill loses at most the uncommitted batch, which the next run redoes.
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


@dataclass(frozen=True)
class PipelineOptions:
    batch_size: int = 32
    decode_workers: int = max(1, min(8, os.cpu_count() or 1))
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
    result = PipelineResult()
    total = len(jobs)
    start = time.perf_counter()
    ready: list[_Decoded] = []  # decoded, waiting for a full model batch
    embedded: list[tuple[int, np.ndarray, PhotoMeta, str | None]] = []
    skipped: list[tuple[int, str, str | None]] = []
    last_commit = time.perf_counter()
    done = 0

    def report(phase: str = "embedding") -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        progress(Progress(done=done, total=total, rate=rate, eta_s=eta, phase=phase))

    def run_model() -> None:
        nonlocal done
        if not ready:
            return
        vectors = embedder.encode_arrays(np.stack([d.array for d in ready]))
        for d, vec in zip(ready, vectors):
            embedded.append((d.photo_id, vec, d.meta, d.fingerprint))
        done += len(ready)
        ready.clear()

    def commit() -> None:
        nonlocal last_commit
        if not embedded and not skipped:
            return
        catalog.store_batch(embedded, skipped)
        if embedded:
            ids = np.fromiter((e[0] for e in embedded), dtype=np.int64, count=len(embedded))
            # The index holds exactly what SQLite holds (float16), so a rebuild changes nothing.
            vecs = np.stack([e[1] for e in embedded]).astype(VECTOR_DTYPE).astype(np.float32)
            on_committed(ids, vecs)
        result.embedded += len(embedded)
        result.skipped += len(skipped)
        embedded.clear()
        skipped.clear()
        last_commit = time.perf_counter()

    report()
    window = max(2 * options.batch_size, 4 * options.decode_workers)
    pool = ThreadPoolExecutor(max_workers=options.decode_workers, thread_name_prefix="decode")
    try:
        pending: deque[Future[_Decoded]] = deque()
        job_iter = iter(jobs)

        def refill() -> None:
            while len(pending) < window:
                job = next(job_iter, None)
                if job is None:
                    return
                pending.append(pool.submit(_decode, root, job[0], job[1], embedder))

        refill()
        while pending:
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            decoded = pending.popleft().result()
            refill()
            if decoded.error is not None:
                log.info("skipped photo %d: %s", decoded.photo_id, decoded.error)
                skipped.append((decoded.photo_id, decoded.error, decoded.fingerprint))
                done += 1
            else:
                ready.append(decoded)
            if len(ready) >= options.batch_size:
                run_model()
                report()
            if (
                len(embedded) + len(skipped) >= options.commit_every
                or time.perf_counter() - last_commit >= options.commit_seconds
            ):
                commit()
        if not result.cancelled:
            run_model()
        commit()
        report("finishing")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return result
