"""The worker objects that run engine work on the session's threads.

* :class:`EngineWorker` opens the library, loads the model and answers queries.
* :class:`IndexWorker` runs ``Library.index``; it has its own thread so that queries keep
  working while a library is being indexed (the engine allows that).
* :class:`DuplicatesWorker` finds duplicate groups; at 100,000 photos that takes a minute,
  so it has a thread of its own too.

They talk to the window only through signals, and every engine error is turned into a plain
:class:`~.errors.UserMessage` here, so no traceback ever reaches a widget. Each request
carries a :class:`~.latest.Ticket`: one that is no longer the newest is skipped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from .errors import UserMessage, describe_error
from .heavy_imports import load_engine_modules, loading_quietly, responsive_gil
from .imaging import load_for_display, pil_to_qimage, scaled_qimage
from .jobs import DuplicatesRequest, IndexJob, IndexOutcome, LibraryInfo, OpenRequest, SearchRequest

if TYPE_CHECKING:
    from ..engine.library import DuplicateFinder, Library
    from ..engine.records import Progress, SearchResult

log = logging.getLogger(__name__)

QUERY_THUMB_SIDE = 160
NOTHING_INDEXED_YET = UserMessage(
    "Nothing is indexed yet",
    "No photo of this library is indexed yet. While indexing runs, results appear as soon as "
    "the first photos are saved (every few seconds).",
)
PROGRESS_INTERVAL_S = 0.1  # at most ten progress updates a second reach the GUI thread


def library_info(lib: Library) -> LibraryInfo:
    counts = lib.counts()
    offline = counts["offline"]
    return LibraryInfo(
        root=lib.root,
        model_name=lib.model_name,
        indexed_model=lib.indexed_model,
        supports_text=lib.spec.supports_text,
        dup_threshold=lib.spec.dup_threshold,
        thumbnails_dir=lib.dirs.thumbnails,
        folders=lib.folders(),
        indexed=counts["indexed"],
        pending=counts["pending"],
        skipped=len(lib.skipped()),
        notices=tuple(lib.notices),
        runtime=lib.runtime_plan().short,
        capture_dates=(dates[0].date(), dates[1].date()) if (dates := lib.capture_date_range()) else None,
        offline=offline,
        offline_folders=tuple(lib.offline_folders()) if offline else (),
        reachable=lib.reachable,
        library_id=lib.library_id,
    )


class EngineWorker(QObject):
    opened = Signal(object, object)  # Library, LibraryInfo
    open_failed = Signal(object)  # UserMessage
    moved_found = Signal(object)  # MovedLibrary: the folder holds a library indexed elsewhere
    model_loading = Signal()
    model_preparing = Signal(object)  # engine Preparation: the model's one-time export, from any thread
    model_ready = Signal()
    model_failed = Signal(object)  # UserMessage
    query_image = Signal(object, QImage)  # Ticket, thumbnail of what is searched for
    results_ready = Signal(object, object, float)  # Ticket, list[SearchResult], seconds
    query_failed = Signal(object, object, bool)  # Ticket, UserMessage, "retry once photos are indexed"

    def __init__(self) -> None:
        super().__init__()
        self._lib: Library | None = None

    @Slot(object)
    def open_library(self, request: OpenRequest) -> None:
        from ..engine.library import find_moved_library, relink_library

        try:
            load_engine_modules()
            if request.relink_from is not None:
                relink_library(request.relink_from, request.root, request.data_dir)
            elif request.look_for_moved:
                moved = find_moved_library(request.root, request.data_dir)
                if moved is not None:
                    self.moved_found.emit(moved)  # the person decides; the window opens it again
                    return
            lib = self._open(request)
            info = library_info(lib)
        except Exception as exc:  # noqa: BLE001 - reported to the person in plain words
            log.info("could not open %s: %s", request.root, exc)
            self.open_failed.emit(describe_error(exc))
            return
        self._lib = lib
        self.opened.emit(lib, info)

    def _open(self, request: OpenRequest) -> Library:
        from ..engine.library import Library

        def make(model: str | None) -> Library:
            # The model runs in its own process: torch never holds this interpreter's GIL.
            return Library(request.root, data_dir=request.data_dir, model=model, device=request.device,
                           weights=request.weights, model_process=True, model_preparing=self.model_preparing.emit,
                           redownload_weights=request.redownload_weights)

        lib = make(request.model)
        if request.model is None and lib.indexed_model is None and request.default_model \
                and request.default_model != lib.model_name:
            lib.close()  # never indexed: use the preferred model instead of the engine default
            lib = make(request.default_model)
        return lib

    @Slot()
    def warm_up(self) -> None:
        """Load the model (and vector index) now, so the first query does not wait for it."""
        if self._lib is None:
            return
        self.model_loading.emit()
        started = time.perf_counter()
        try:
            with loading_quietly():  # the vector index is read here too (seconds at 1M photos)
                self._lib.warm_up()
        except Exception as exc:  # noqa: BLE001
            log.info("model %s failed to load: %s", self._lib.model_name, exc)
            self.model_failed.emit(describe_error(exc))
            return
        log.info("model %s ready in %.1f s", self._lib.model_name, time.perf_counter() - started)
        self.model_ready.emit()

    @Slot(object)
    def search(self, request: SearchRequest) -> None:
        if request.ticket.cancelled or self._lib is None:
            return  # a newer query was asked for while this one waited
        started = time.perf_counter()
        try:
            with responsive_gil():  # the window's own work meanwhile waits less for the GIL
                results = self._run(request)
        except Exception as exc:  # noqa: BLE001
            log.info("query %d failed: %s", request.ticket.seq, exc)
            if self._nothing_indexed_yet():
                self.query_failed.emit(request.ticket, NOTHING_INDEXED_YET, True)
            else:
                self.query_failed.emit(request.ticket, describe_error(exc), False)
            return
        self.results_ready.emit(request.ticket, results, time.perf_counter() - started)

    def _nothing_indexed_yet(self) -> bool:
        try:
            return self._lib is not None and self._lib.counts()["indexed"] == 0
        except Exception:  # noqa: BLE001 - the original error is the one to report
            return False

    def _run(self, request: SearchRequest) -> list[SearchResult]:
        assert self._lib is not None
        self._emit_query_image(request)
        return self._lib.search(request.query, request.k, request.filters)

    def _emit_query_image(self, request: SearchRequest) -> None:
        """The header's thumbnail: the query's first photo or image, if it has one."""
        assert self._lib is not None
        term = next((t for t in request.query.positive if t.kind != "text"), None)
        if term is None:
            return
        try:
            if term.kind == "pixels":
                image = QImage.fromData(term.pixels)
                self.query_image.emit(request.ticket, scaled_qimage(image, QUERY_THUMB_SIDE))
                return
            path = self._lib.root / term.text if term.kind == "photo" else Path(term.text)
            thumb, _ = load_for_display(path, QUERY_THUMB_SIDE)
        except Exception:  # noqa: BLE001 - the search itself reports an unreadable file
            return
        self.query_image.emit(request.ticket, pil_to_qimage(thumb))


class IndexWorker(QObject):
    progress = Signal(object)  # engine Progress
    finished = Signal(object)  # IndexOutcome
    failed = Signal(object)  # UserMessage

    @Slot(object)
    def run(self, job: IndexJob) -> None:
        from ..engine.records import PipelineOptions

        last_emit = 0.0
        last_phase = ""

        def on_progress(p: Progress) -> None:
            # Called by the engine after every batch; forward only what a person can read.
            nonlocal last_emit, last_phase
            now = time.monotonic()
            if p.phase != last_phase or p.done >= p.total or now - last_emit >= PROGRESS_INTERVAL_S:
                last_emit, last_phase = now, p.phase
                self.progress.emit(p)

        try:
            report = job.library.index(
                progress=on_progress, cancel=job.cancel, options=PipelineOptions(batch_size=job.batch_size),
                remove_missing=job.remove_missing,
            )
            info = library_info(job.library)
        except Exception as exc:  # noqa: BLE001
            log.info("indexing failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
            self.failed.emit(describe_error(exc))
            return
        self.finished.emit(IndexOutcome(report, info))


class DuplicatesWorker(QObject):
    """Candidate pairs and copies are searched once per folder (at the lowest threshold the
    window offers); another threshold only regroups, and labels are remembered."""

    progress = Signal(object, str, int, int)  # Ticket, what, done, total
    groups_ready = Signal(object, object, bool)  # Ticket, list[DuplicateGroup], labels checked
    failed = Signal(object, object)  # Ticket, UserMessage

    def __init__(self) -> None:
        super().__init__()
        self._finder: DuplicateFinder | None = None

    @Slot(object)
    def run(self, request: DuplicatesRequest) -> None:
        from ..engine.errors import Cancelled

        ticket = request.ticket
        if ticket.cancelled:
            return
        try:
            if request.rebuild or self._finder is None:
                self._finder = None  # files may have changed since: labels are checked again
                self._finder = request.library.duplicate_finder(request.folder, request.floor)
            groups = self._finder.groups(
                request.threshold, ticket.cancel,
                lambda done, total: self.progress.emit(ticket, "Comparing photos", done, total),
            )
            # Copies are told from similar shots by signatures stored at index time: the
            # groups come labelled, nothing is decoded here.
            self.groups_ready.emit(ticket, groups, True)
        except Cancelled:
            log.debug("duplicate request %d superseded", ticket.seq)
        except Exception as exc:  # noqa: BLE001 - reported to the person in plain words
            log.info("finding duplicates failed: %s", exc)
            self.failed.emit(ticket, describe_error(exc))
