"""The current query and its results.

Runs the query on the library's session, runs it again when the filters change or indexing
saves new photos, and puts results, failures, the header's words and the filter chips in place.
The selected result goes to the preview pane and the photo actions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QPoint, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from .errors import UserMessage
from .jobs import Query
from .result_grid import DEFAULT_HINT

if TYPE_CHECKING:
    from ..engine.records import SearchResult
    from .filters_panel import FiltersPanel
    from .preview_pane import PreviewPane
    from .query_header import QueryHeader
    from .result_actions import ResultActions
    from .result_grid import ResultGrid
    from .result_model import ResultModel
    from .session import LibrarySession


class SearchController(QObject):
    status = Signal(str, int)  # a line for the status bar, and for how many ms

    def __init__(
        self,
        header: QueryHeader,
        grid: ResultGrid,
        model: ResultModel,
        filters: FiltersPanel,
        preview: PreviewPane,
        photo_actions: ResultActions,
        photo_menu: list[QAction],
        results_count: Callable[[], int],
    ) -> None:
        super().__init__(header)
        self.header, self.grid, self.model, self.filters = header, grid, model, filters
        self.preview, self.photo_actions, self.photo_menu = preview, photo_actions, photo_menu
        self._results_count = results_count
        self.session: LibrarySession | None = None
        self.query: Query | None = None
        self._last_seconds: float | None = None
        self._retry = False  # the query came too early: run it again as indexing goes on

        chips = header.chips
        chips.clear_folder.connect(filters.clear_folder)
        chips.clear_dates.connect(filters.clear_dates)
        chips.clear_min_score.connect(filters.clear_min_score)
        chips.clear_all.connect(self.clear_filters)
        filters.filters_changed.connect(self._filters_changed)
        filters.min_score_changed.connect(self._min_score_changed)
        grid.selectionModel().currentChanged.connect(self._current_changed)
        grid.customContextMenuRequested.connect(self._grid_menu)
        photo_actions.find_similar.connect(self.find_similar)
        self.update_chips()

    # -- the library ------------------------------------------------------------------------------

    def set_session(self, session: LibrarySession | None) -> None:
        """A library opened (or closed: None); what was shown belonged to the old one."""
        self.session, self.query, self._retry = session, None, False
        self.model.set_results([])
        self.preview.attach(session.calls() if session is not None else None)
        self.header.show_idle()
        self.grid.set_hint(DEFAULT_HINT)
        if session is not None:
            session.query_image.connect(self.header.set_query_image)
            session.results_ready.connect(self._on_results)
            session.query_failed.connect(self._on_failed)

    def indexing_progressed(self) -> None:
        """Photos were saved: a query that found nothing indexed yet runs again."""
        if self._retry:
            self._retry = False
            self.rerun()

    # -- queries ----------------------------------------------------------------------------------

    def run(self, query: Query) -> None:
        if self.session is None or self.session.info is None:
            wait = "The photo folder is still opening; try again in a moment." if self.session else \
                "Choose your photo folder first."
            self.status.emit(wait, 5000)
            return
        self.query = query
        self.header.show_query(query.label, query.kind == "text")
        self._search()

    def rerun(self) -> None:
        """The same query again (filters changed, photos were indexed)."""
        if self.query is not None and self.session is not None:
            self._search()
            self.header.set_detail("Searching…")

    def _search(self) -> None:
        assert self.query is not None and self.session is not None
        self.session.search(self.query, self._results_count(), self.filters.filters())

    def find_similar(self, result: SearchResult) -> None:
        self.run(Query.from_photo(result.photo.id, result.photo.rel_path, Path(result.abs_path)))

    def _on_results(self, results: list[SearchResult], seconds: float) -> None:
        self._retry = False
        self.model.set_results(results)
        self.grid.scrollToTop()
        self._update_detail(seconds)

    def _on_failed(self, message: UserMessage, retry: bool) -> None:
        self._retry = retry and self.session is not None and self.session.indexing
        self.model.set_results([])
        self.header.set_detail(message.title)
        self.grid.set_hint(message.text)
        self.status.emit(message.text, 10000)

    def _update_detail(self, seconds: float | None = None) -> None:
        shown, total = self.model.rowCount(), self.model.total
        if total == 0:
            detail = "No photos match."
            hint = "No photos match this search."
            if self.filters.filters().active:
                hint += "\nTry another folder or date range, or clear the filters."
        elif shown < total:
            detail = f"{shown} of {total} results (weaker matches hidden by the minimum score)"
            hint = "Every result is below the minimum score. Lower it to see them." if shown == 0 else ""
        else:
            detail = f"{total} result{'s' if total != 1 else ''}"
            hint = ""
        if seconds is not None:
            self._last_seconds = seconds
        if self._last_seconds is not None and total:
            detail += f" · {self._last_seconds:.2f} s"
        self.header.set_detail(detail)
        self.grid.set_hint(hint)

    # -- filters ----------------------------------------------------------------------------------

    def _filters_changed(self) -> None:
        self.update_chips()
        self.rerun()

    def _min_score_changed(self, value: float) -> None:
        self.model.set_min_score(value if value > 0 else None)  # 0 means "any score"
        self.update_chips()
        if self.query is not None:
            self._update_detail()

    def update_chips(self) -> None:
        start, end = self.filters.date_range()
        self.header.chips.update_chips(
            self.filters.folder(), start, end, self.filters.undated_check.isChecked(), self.filters.min_score()
        )

    def clear_filters(self) -> None:
        self.filters.clear_min_score()
        self.filters.clear_dates()
        self.filters.clear_folder()

    # -- the selected result ----------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        result = self.model.result(current.row()) if current.isValid() else None
        self.photo_actions.set_result(result)
        if result is not None:
            self.preview.show_result(result)

    def _grid_menu(self, pos: QPoint) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        menu = QMenu(self.grid)
        menu.addActions(self.photo_menu)
        menu.exec(self.grid.viewport().mapToGlobal(pos))
