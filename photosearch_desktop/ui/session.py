"""One open library and every piece of background work done for it.

The session owns all of the window's background work for a library: three worker threads
(queries and the model, indexing, duplicates), one thread pool for short calls (catalog
reads, previews, exports) and one for thumbnails. Widgets never start a thread: they ask the
session, and the answers come back as signals on the GUI thread. Queries and duplicate searches follow one rule,
:class:`~.latest.LatestOnly`: a newer request cancels the older one and late answers are
dropped. Closing the session stops everything and then closes the catalog.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, QThreadPool, Signal
from PySide6.QtGui import QImage

from .jobs import DuplicatesRequest, IndexJob, IndexOutcome, LibraryInfo, OpenRequest, SearchRequest
from .latest import LatestOnly, Ticket
from .tasks import BackgroundCalls
from .workers import DuplicatesWorker, EngineWorker, IndexWorker

if TYPE_CHECKING:
    from ..engine.library import Library
    from ..engine.records import SearchFilters, SearchQuery

log = logging.getLogger(__name__)

W = TypeVar("W", EngineWorker, IndexWorker, DuplicatesWorker)
SHORT_CALL_THREADS = 2  # catalog reads, previews, exports: mostly waiting on the disk
# Thumbnails leave one core to the GUI thread. On 2 cores, with two thumbnail threads the worst
# stall scrolling 100,000 photos (scripts/bench_gui.py --browse) was 59-81 ms in 6 runs, with
# one 38-43 ms in 4, back to back: three busy threads on two cores left the GUI thread waiting
# for a core. A pool of their own: a long call (an export copying photos, a page of records
# read while thumbnails queue) never waits for the other kind.
THUMBNAIL_THREADS = max(1, (os.cpu_count() or 2) - 1)


class LibrarySession(QObject):
    """The window's handle on a library. Signals arrive on the GUI thread."""

    opened = Signal(object)  # LibraryInfo
    open_failed = Signal(object)  # UserMessage
    moved_found = Signal(object)  # MovedLibrary: not opened; the window asks whether to use its index
    model_loading = Signal()
    model_preparing = Signal(object)  # engine Preparation
    model_ready = Signal()
    model_failed = Signal(object)
    index_started = Signal()
    index_progress = Signal(object)  # engine Progress
    index_finished = Signal(object)  # IndexOutcome
    index_failed = Signal(object)
    query_image = Signal(QImage)
    results_ready = Signal(object, float)  # list[SearchResult], seconds
    query_failed = Signal(object, bool)  # UserMessage, retry once photos are indexed
    duplicates_progress = Signal(str, int, int)  # what, done, total
    duplicates_ready = Signal(object, bool)  # list[DuplicateGroup], labels checked
    duplicates_failed = Signal(object)  # UserMessage

    # Requests to the workers (queued across threads).
    _open_requested = Signal(object)
    _warm_up_requested = Signal()
    _search_requested = Signal(object)
    _index_requested = Signal(object)
    _duplicates_requested = Signal(object)

    def __init__(self, request: OpenRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self.library: Library | None = None
        self.info: LibraryInfo | None = None
        self._queries = LatestOnly()
        self._duplicates = LatestOnly()
        self._job: IndexJob | None = None
        self._closed = False
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(SHORT_CALL_THREADS)
        self.thumbnail_pool = QThreadPool(self)
        self.thumbnail_pool.setMaxThreadCount(THUMBNAIL_THREADS)

        self._engine_thread, self._engine = self._start_thread("photosearch-engine", EngineWorker())
        self._index_thread, self._indexer = self._start_thread("photosearch-indexer", IndexWorker())
        self._dup_thread, self._dup_worker = self._start_thread("photosearch-duplicates", DuplicatesWorker())

        self._open_requested.connect(self._engine.open_library)
        self._warm_up_requested.connect(self._engine.warm_up)
        self._search_requested.connect(self._engine.search)
        self._index_requested.connect(self._indexer.run)
        self._duplicates_requested.connect(self._dup_worker.run)
        self._engine.opened.connect(self._on_opened)
        self._engine.open_failed.connect(self.open_failed)
        self._engine.moved_found.connect(self.moved_found)
        self._engine.model_loading.connect(self.model_loading)
        self._engine.model_preparing.connect(self.model_preparing)
        self._engine.model_ready.connect(self.model_ready)
        self._engine.model_failed.connect(self.model_failed)
        self._engine.query_image.connect(self._on_query_image)
        self._engine.results_ready.connect(self._on_results)
        self._engine.query_failed.connect(self._on_query_failed)
        self._indexer.progress.connect(self.index_progress)
        self._indexer.finished.connect(self._on_index_finished)
        self._indexer.failed.connect(self._on_index_failed)
        self._dup_worker.progress.connect(self._on_duplicates_progress)
        self._dup_worker.groups_ready.connect(self._on_duplicates)
        self._dup_worker.failed.connect(self._on_duplicates_failed)

    def _start_thread(self, name: str, worker: W) -> tuple[QThread, W]:
        thread = QThread(self)
        thread.setObjectName(name)
        worker.moveToThread(thread)
        thread.finished.connect(worker.deleteLater)
        thread.start()
        return thread, worker

    # -- commands from the window -------------------------------------------------------------

    def open(self) -> None:
        self._open_requested.emit(self.request)

    def calls(self) -> BackgroundCalls:
        """A handle for short calls on this session's pool (its ``cancel_all`` is its own);
        it lives as long as the session."""
        return BackgroundCalls(self.pool, self)

    def thumbnail_calls(self) -> BackgroundCalls:
        """:meth:`calls` on the thumbnails' own pool."""
        return BackgroundCalls(self.thumbnail_pool, self)

    @property
    def indexing(self) -> bool:
        return self._job is not None

    def start_index(self, remove_missing: bool = False) -> bool:
        """Bring the index up to date in the background; False if a run is already going.
        ``remove_missing`` deletes the photos not found instead of keeping them offline."""
        if self.library is None or self._job is not None or self._closed:
            return False
        self._job = IndexJob(self.library, remove_missing=remove_missing)
        self._index_requested.emit(self._job)
        self.index_started.emit()
        return True

    def cancel_index(self) -> None:
        if self._job is not None:
            self._job.cancel.set()  # the indexer stops after the batch it is working on

    def search(self, query: SearchQuery, k: int, filters: SearchFilters) -> None:
        self._search_requested.emit(SearchRequest(self._queries.next(), query, k, filters))

    def find_duplicates(self, folder: str, floor: float, threshold: float, rebuild: bool) -> None:
        """Groups at ``threshold`` (pairs searched again at ``floor`` when ``rebuild``); the
        previous request's pixel checks stop."""
        if self.library is None or self._closed:
            return
        ticket = self._duplicates.next()
        self._duplicates_requested.emit(DuplicatesRequest(ticket, self.library, folder, floor, threshold, rebuild))

    def cancel_duplicates(self) -> None:
        self._duplicates.cancel()

    def close(self, timeout_s: float = 20.0) -> bool:
        """Stop indexing, every thread and the pools, then close the catalog. Returns False if a
        thread was still busy after ``timeout_s`` (a model download cannot be interrupted)."""
        if self._closed:
            return True
        self._closed = True
        self.cancel_index()
        self._queries.cancel()  # queries still queued are skipped
        self._duplicates.cancel()
        deadline = QDeadlineTimer(int(timeout_s * 1000))
        started = time.perf_counter()
        finished = True
        for thread in (self._index_thread, self._dup_thread, self._engine_thread):
            thread.quit()
            finished = thread.wait(deadline) and finished
        for pool in (self.pool, self.thumbnail_pool):
            pool.clear()
            finished = pool.waitForDone(max(0, int(deadline.remainingTime()))) and finished
        log.info("background work stopped in %.2f s (clean: %s)", time.perf_counter() - started, finished)
        if finished and self.library is not None:
            self.library.close()
        self.blockSignals(True)  # answers still queued for the window are of no use now
        return finished

    # -- answers from the workers ------------------------------------------------------------

    def _on_opened(self, library: Library, info: LibraryInfo) -> None:
        if self._closed:
            return
        self.library, self.info = library, info
        self.opened.emit(info)
        self._warm_up_requested.emit()

    def _on_query_image(self, ticket: Ticket, image: QImage) -> None:
        if self._queries.is_current(ticket):
            self.query_image.emit(image)

    def _on_results(self, ticket: Ticket, results: list, seconds: float) -> None:
        if self._queries.is_current(ticket):
            self.results_ready.emit(results, seconds)
        else:
            log.debug("dropped the results of query %d", ticket.seq)

    def _on_query_failed(self, ticket: Ticket, message: object, retry: bool) -> None:
        if self._queries.is_current(ticket):
            self.query_failed.emit(message, retry)

    def _on_index_finished(self, outcome: IndexOutcome) -> None:
        self._job = None
        self.info = outcome.info
        self.index_finished.emit(outcome)

    def _on_index_failed(self, message: object) -> None:
        self._job = None
        self.index_failed.emit(message)

    def _on_duplicates_progress(self, ticket: Ticket, what: str, done: int, total: int) -> None:
        if self._duplicates.is_current(ticket):
            self.duplicates_progress.emit(what, done, total)

    def _on_duplicates(self, ticket: Ticket, groups: list, labelled: bool) -> None:
        if self._duplicates.is_current(ticket):
            self.duplicates_ready.emit(groups, labelled)

    def _on_duplicates_failed(self, ticket: Ticket, message: object) -> None:
        if self._duplicates.is_current(ticket):
            self.duplicates_failed.emit(message)
