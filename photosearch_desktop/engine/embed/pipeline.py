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
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import LoadError
from ..media.loader import load_image
from ..media.pixel_hash import perceptual_hash
from ..media.signature import DECODE_MIN_SIDE, take_signature
from ..models.base import Embedder
from ..records import PhotoMeta, PipelineOptions, Progress
from ..scan.fingerprint import fingerprint

log = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]
Embedded = tuple[int, np.ndarray, PhotoMeta, str | None]  # photo id, vector, metadata, fingerprint
Skipped = tuple[int, str, str | None]  # photo id, reason, fingerprint
StoreBatch = Callable[[list[Embedded], list[Skipped]], None]
Signed = tuple[int, int | None, bytes]  # photo id, perceptual hash, pixel signature (b"": none)
StoreSigned = Callable[[list[Signed]], None]
CORES = os.cpu_count() or 1


TOO_SLOW = (
    "Took too long to decode (more than {seconds:g} s): the file may be on a slow or "
    "disconnected drive, or be malformed"
)


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
        # The pixel signature needs a little more than a tiny model's input.
        loaded = load_image(path, min_side=max(embedder.input_size, DECODE_MIN_SIDE))
        meta = replace(
            loaded.meta, pixel_hash=perceptual_hash(loaded.image), pixel_signature=take_signature(loaded.image)
        )
        return _Decoded(photo_id, fp, embedder.preprocess(loaded.image), meta)
    except LoadError as exc:
        return _Decoded(photo_id, fp, error=exc.reason)
    except FileNotFoundError:
        return _Decoded(photo_id, fp, error="The file disappeared while it was being indexed")
    except OSError as exc:
        return _Decoded(photo_id, fp, error=f"Cannot be read: {exc.strerror or exc}")


class _DecodeThreads:
    """Decode threads that a stuck decode cannot hold up.

    A thread stuck in a decode cannot be killed, so the decode is abandoned instead: a new
    thread takes the stuck one's place, and the threads are daemons, so neither the run nor
    the process's exit waits for it (a ThreadPoolExecutor's threads are joined at exit).
    """

    def __init__(self, workers: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[_Decoded], Callable[..., _Decoded], tuple[object, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._abandoned: set[threading.Thread] = set()
        for _ in range(max(1, workers)):
            self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name=f"decode-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            future.thread = threading.current_thread()  # type: ignore[attr-defined]
            future.started = time.monotonic()  # type: ignore[attr-defined]
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                future.set_exception(exc)

    def submit(self, fn: Callable[..., _Decoded], *args: object) -> Future[_Decoded]:
        future: Future[_Decoded] = Future()
        self._jobs.put((future, fn, args))
        return future

    def abandon(self, future: Future[_Decoded]) -> None:
        """Give up on a running decode; a fresh thread replaces the one stuck in it."""
        self._abandoned.add(future.thread)  # type: ignore[attr-defined]
        self._spawn()

    def shutdown(self, grace: float) -> None:
        """Cancel queued decodes and let the threads end, waiting ``grace`` s at most."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            if thread not in self._abandoned:
                thread.join(max(0.0, deadline - time.monotonic()))


@dataclass
class PipelineResult:
    embedded: int = 0
    skipped: int = 0
    cancelled: bool = False
    signed: int = 0  # sign_indexed: photos given a pixel signature


class _Run:
    """State of one ``embed_pending`` call."""

    def __init__(
        self,
        total: int,
        store: StoreBatch,
        progress: ProgressCallback | None,
        options: PipelineOptions,
    ) -> None:
        self.total = total
        self.store = store
        self.progress = progress
        self.options = options
        self.result = PipelineResult()
        self.embedded: list[Embedded] = []
        self.skipped: list[Skipped] = []
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
        for d, vec in zip(batch, vectors, strict=True):
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
        self.store(self.embedded, self.skipped)
        self.result.embedded += len(self.embedded)
        self.result.skipped += len(self.skipped)
        self.embedded.clear()
        self.skipped.clear()
        self.last_commit = time.perf_counter()


def _next_decoded(
    decoding: deque[tuple[int, Future[_Decoded]]],
    decode_pool: _DecodeThreads,
    options: PipelineOptions,
    cancel: threading.Event | None,
) -> _Decoded | None:
    """The oldest decode's result, a skip if it ran too long, or None on cancel."""
    if cancel is not None and cancel.is_set():
        return None
    photo_id, future = decoding[0]
    while True:
        try:
            decoded = future.result(timeout=min(0.25, options.decode_timeout))
        except TimeoutError:
            if future.done():
                raise  # the decode itself raised it
            if cancel is not None and cancel.is_set():
                return None
            started = getattr(future, "started", None)
            if started is None or time.monotonic() - started < options.decode_timeout:
                continue
            log.warning("photo %d: decoding took more than %g s; skipped", photo_id, options.decode_timeout)
            decode_pool.abandon(future)
            decoded = _Decoded(photo_id, None, error=TOO_SLOW.format(seconds=options.decode_timeout))
        decoding.popleft()
        return decoded


def embed_pending(
    root: Path,
    jobs: Sequence[tuple[int, str]],
    embedder: Embedder,
    store: StoreBatch,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    options: PipelineOptions | None = None,
) -> PipelineResult:
    """Embed ``jobs`` (photo id, relative path); ``store`` saves each batch of results."""
    options = options or PipelineOptions()
    streams, threads, batch_size = stream_plan(embedder, options)
    run = _Run(len(jobs), store, progress, options)
    run.report()
    decode_pool = _DecodeThreads(options.decode_workers)
    model_pool = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="model")
    decoding: deque[tuple[int, Future[_Decoded]]] = deque()
    encoding: deque[tuple[list[_Decoded], Future[np.ndarray]]] = deque()
    window = batch_size * (streams + 1)  # enough decoded ahead to keep every stream fed
    job_iter = iter(jobs)
    ready: list[_Decoded] = []
    waiting = len(jobs)  # photos not yet handed to a stream or skipped

    def refill() -> None:
        while len(decoding) < window:
            job = next(job_iter, None)
            if job is None:
                return
            decoding.append((job[0], decode_pool.submit(_decode, root, job[0], job[1], embedder)))

    def submit(batch: list[_Decoded]) -> None:
        arrays = np.stack([d.array for d in batch])  # type: ignore[misc]
        encoding.append((batch, model_pool.submit(embedder.encode_arrays, arrays)))

    def collect(block: bool) -> None:
        while encoding and (block or encoding[0][1].done()):
            batch, future = encoding.popleft()
            run.add_batch(batch, future.result())
            block = False

    try:
        with embedder.cpu_threads(threads):
            refill()
            while decoding:
                decoded = _next_decoded(decoding, decode_pool, options, cancel)
                if decoded is None:
                    run.result.cancelled = True
                    break
                refill()
                if decoded.error is not None:
                    run.add_skipped(decoded)
                    run.maybe_commit()
                    waiting -= 1
                else:
                    ready.append(decoded)
                if len(ready) >= _batch_now(batch_size, waiting, streams):
                    submit(ready)
                    waiting -= len(ready)
                    ready = []
                collect(block=len(encoding) > streams)
            if ready and not run.result.cancelled:
                submit(ready)
            while encoding:
                collect(block=True)
            run.commit()
            run.report("finishing")
    finally:
        # On cancel, a decode still running (perhaps stuck) is not waited for.
        decode_pool.shutdown(grace=0.0 if run.result.cancelled else min(options.decode_timeout, 5.0))
        model_pool.shutdown(wait=True, cancel_futures=True)
    return run.result


def stream_plan(embedder: Embedder, options: PipelineOptions) -> tuple[int, int, int]:
    """(model streams, intra-op threads each, photos per batch) a run of ``embedder`` uses: on a
    CPU one single-threaded stream per core, on a GPU one stream of big batches."""
    on_cpu = embedder.device == "cpu"
    streams = options.model_workers or (CORES if on_cpu else 1)
    threads = max(1, CORES // streams) if on_cpu else CORES
    return streams, threads, options.batch_size or (embedder.cpu_batch_size if on_cpu else 64)


def _batch_now(batch_size: int, waiting: int, streams: int) -> int:
    """The size of the next batch with ``waiting`` photos left for ``streams`` streams: full
    batches, then the last photos shared out so that the streams finish together (with whole
    batches one stream runs a last batch alone: 10 new photos in batches of 4 on 2 streams
    took 6 photos' time, shared out 5)."""
    return max(1, min(batch_size, -(-waiting // streams)))


# -- pixel signatures of photos indexed before they were kept -------------------------------------


def _sign(root: Path, photo_id: int, rel: str) -> _Decoded:
    """Decode for the signature alone (no fingerprint, no model input). A file that no longer
    decodes gets an empty signature (never a copy of anything); one that cannot be read now
    (gone, no permission) is tried again on the next run."""
    try:
        loaded = load_image(root / rel, min_side=DECODE_MIN_SIDE)
        meta = replace(
            loaded.meta, pixel_hash=perceptual_hash(loaded.image), pixel_signature=take_signature(loaded.image)
        )
        return _Decoded(photo_id, None, meta=meta)
    except LoadError:
        return _Decoded(photo_id, None, meta=PhotoMeta(0, 0, pixel_signature=b""))
    except OSError as exc:
        return _Decoded(photo_id, None, error=f"Cannot be read: {exc.strerror or exc}")


def sign_indexed(
    root: Path,
    jobs: Sequence[tuple[int, str]],
    store: StoreSigned,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    options: PipelineOptions | None = None,
) -> PipelineResult:
    """Take the pixel signature of already indexed photos ``jobs`` (photo id, relative path):
    decoded on the decode threads, no model call; ``store`` saves each batch (one
    transaction), so a kill loses at most the batch in progress."""
    options = options or PipelineOptions()
    run = _Run(len(jobs), lambda _e, _s: None, progress, options)
    signed: list[Signed] = []

    def commit() -> None:
        if signed:
            store(signed)
            run.result.signed += len(signed)
            signed.clear()
        run.last_commit = time.perf_counter()

    run.report("signing")
    decode_pool = _DecodeThreads(options.decode_workers)
    decoding: deque[tuple[int, Future[_Decoded]]] = deque()
    window = 8 * max(1, options.decode_workers)
    job_iter = iter(jobs)
    try:
        while True:
            while len(decoding) < window and (job := next(job_iter, None)) is not None:
                decoding.append((job[0], decode_pool.submit(_sign, root, job[0], job[1])))
            if not decoding:
                break
            decoded = _next_decoded(decoding, decode_pool, options, cancel)
            if decoded is None:
                run.result.cancelled = True
                break
            run.done += 1
            if decoded.meta is not None and decoded.meta.pixel_signature is not None:
                signed.append((decoded.photo_id, decoded.meta.pixel_hash, decoded.meta.pixel_signature))
            else:
                log.info("no signature for photo %d now: %s", decoded.photo_id, decoded.error)
            if len(signed) >= options.commit_every or time.perf_counter() - run.last_commit >= options.commit_seconds:
                commit()
                run.report("signing")
        commit()
        run.report("signing")
    finally:
        decode_pool.shutdown(grace=0.0 if run.result.cancelled else min(options.decode_timeout, 5.0))
    return run.result
