"""One open library: owns the worker threads, numbers the queries, and shuts down cleanly."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal
from PySide6.QtGui import QImage

from .jobs import IndexJob, IndexOutcome, LibraryInfo, OpenRequest, Query, SearchRequest
from .workers import EngineWorker, IndexWorker

if TYPE_CHECKING:
    from ..engine.library import Library
    from ..engine.records import SearchFilters

log = logging.getLogger(__name__)

W = TypeVar("W", EngineWorker, IndexWorker)


class LibrarySession(QObject):
    """The window's handle on a library. Signals arrive on the GUI thread.

    Query results are numbered: only the answer to the newest query is passed on, so a slow
    older query that finishes late never replaces newer results.
    """

    opened = Signal(object)  # LibraryInfo
    open_failed = Signal(object)  # UserMessage
    model_loading = Signal()
    model_ready = Signal()
    model_failed = Signal(object)
    index_started = Signal()
    index_progress = Signal(object)  # engine Progress
    index_finished = Signal(object)  # IndexOutcome
    index_failed = Signal(object)
    query_image = Signal(QImage)
    results_ready = Signal(object, float)  # list[SearchResult], seconds
    query_failed = Signal(object, bool)  # UserMessage, retry once photos are indexed

    # Requests to the workers (queued across threads).
    _open_requested = Signal(object)
    _warm_up_requested = Signal()
    _search_requested = Signal(object)
    _index_requested = Signal(object)

    def __init__(self, request: OpenRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self.library: Library | None = None
        self.info: LibraryInfo | None = None
        self._seq = 0
        self._job: IndexJob | None = None
        self._closed = False

        self._engine_thread, self._engine = self._start_thread("photosearch-engine", EngineWorker())
        self._index_thread, self._indexer = self._start_thread("photosearch-indexer", IndexWorker())

        self._open_requested.connect(self._engine.open_library)
        self._warm_up_requested.connect(self._engine.warm_up)
        self._search_requested.connect(self._engine.search)
        self._index_requested.connect(self._indexer.run)
        self._engine.opened.connect(self._on_opened)
        self._engine.open_failed.connect(self.open_failed)
        self._engine.model_loading.connect(self.model_loading)
        self._engine.model_ready.connect(self.model_ready)
        self._engine.model_failed.connect(self.model_failed)
        self._engine.query_image.connect(self._on_query_image)
        self._engine.results_ready.connect(self._on_results)
        self._engine.query_failed.connect(self._on_query_failed)
        self._indexer.progress.connect(self.index_progress)
        self._indexer.finished.connect(self._on_index_finished)
        self._indexer.failed.connect(self._on_index_failed)

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

    @property
    def indexing(self) -> bool:
        return self._job is not None

    def start_index(self) -> bool:
        """Bring the index up to date in the background; False if a run is already going."""
        if self.library is None or self._job is not None or self._closed:
            return False
        self._job = IndexJob(self.library)
        self._index_requested.emit(self._job)
        self.index_started.emit()
        return True

    def cancel_index(self) -> None:
        if self._job is not None:
            self._job.cancel.set()  # the indexer stops after the batch it is working on

    def search(self, query: Query, k: int, filters: SearchFilters) -> int:
        self._seq += 1
        self._engine.latest_seq = self._seq
        self._search_requested.emit(SearchRequest(self._seq, query, k, filters))
        return self._seq

    def close(self, timeout_s: float = 20.0) -> bool:
        """Stop indexing and both threads, then close the catalog. Returns False if a thread
        was still busy after ``timeout_s`` (a model download cannot be interrupted)."""
        if self._closed:
            return True
        self._closed = True
        self.cancel_index()
        self._engine.latest_seq = 1 << 62  # skip queries still queued
        deadline = QDeadlineTimer(int(timeout_s * 1000))
        started = time.perf_counter()
        finished = True
        for thread in (self._index_thread, self._engine_thread):
            thread.quit()
            finished = thread.wait(deadline) and finished
        log.info("worker threads stopped in %.2f s (clean: %s)", time.perf_counter() - started, finished)
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

    def _on_query_image(self, seq: int, image: QImage) -> None:
        if seq == self._seq:
            self.query_image.emit(image)

    def _on_results(self, seq: int, results: list, seconds: float) -> None:
        if seq == self._seq:
            self.results_ready.emit(results, seconds)
        else:
            log.debug("dropped the results of query %d (newest is %d)", seq, self._seq)

    def _on_query_failed(self, seq: int, message: object, retry: bool) -> None:
        if seq == self._seq:
            self.query_failed.emit(message, retry)

    def _on_index_finished(self, outcome: IndexOutcome) -> None:
        self._job = None
        self.info = outcome.info
        self.index_finished.emit(outcome)

    def _on_index_failed(self, message: object) -> None:
        self._job = None
        self.index_failed.emit(message)
