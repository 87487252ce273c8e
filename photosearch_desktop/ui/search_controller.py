"""What the grid shows: the library (browsing) or a query's results.

With no query the grid browses the chosen folder, newest first, under the date filters; a query
(photos, words, several of each, some to avoid) replaces it, and going back to browsing returns
to where the person was. Queries run on the library's session and run again when the filters
change or indexing saves new photos; saved searches are kept and opened from here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QPoint, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMenu

from ..engine.errors import LibraryError
from ..engine.records import BrowseOrder, PhotoRecord, SavedSearch, SearchQuery, SearchResult
from .errors import UserMessage, describe_error
from .export_dialog import ExportChoice
from .photo_grid import DEFAULT_HINT
from .queries import photo_term, photos_query, refinement

if TYPE_CHECKING:
    from .filters_panel import FiltersPanel
    from .photo_actions import PhotoActions
    from .photo_grid import PhotoGrid
    from .photo_model import GridItem, PhotoModel
    from .preview_pane import PreviewPane
    from .query_header import QueryHeader
    from .saved_panel import SavedPanel
    from .session import LibrarySession
    from .tasks import BackgroundCalls


class SearchController(QObject):
    status = Signal(str, int)  # a line for the status bar, and for how many ms
    mode_changed = Signal()  # browsing <-> a query: what the actions apply to changes

    def __init__(
        self,
        header: QueryHeader,
        grid: PhotoGrid,
        model: PhotoModel,
        filters: FiltersPanel,
        saved: SavedPanel,
        preview: PreviewPane,
        photo_actions: PhotoActions,
        photo_menu: Callable[[], list[QAction]],
        results_count: Callable[[], int],
    ) -> None:
        super().__init__(header)
        self.header, self.grid, self.model, self.filters, self.saved = header, grid, model, filters, saved
        self.preview, self.photo_actions, self._photo_menu = preview, photo_actions, photo_menu
        self._results_count = results_count
        self.session: LibrarySession | None = None
        self.query: SearchQuery | None = None
        self.order: BrowseOrder = "newest"
        self._last_seconds: float | None = None
        self._retry = False  # the query came too early: run it again as indexing goes on
        self._browse_scroll = 0  # where browsing was when a query replaced it
        self._reads: BackgroundCalls | None = None  # browse lists and saved searches
        self._pages: BackgroundCalls | None = None  # the records of browsed pages

        chips = header.chips
        chips.clear_folder.connect(filters.clear_folder)
        chips.clear_dates.connect(filters.clear_dates)
        chips.clear_min_score.connect(filters.clear_min_score)
        chips.clear_all.connect(self.clear_filters)
        header.back_to_browsing.connect(self.back_to_browsing)
        header.refine.connect(self.refine)
        header.remove_term.connect(self.remove_term)
        header.order_changed.connect(self._order_changed)
        filters.filters_changed.connect(self._filters_changed)
        filters.min_score_changed.connect(self._min_score_changed)
        saved.open_search.connect(self.open_saved)
        saved.rename_search.connect(lambda old, new: self._saved_change(lambda lib: lib.rename_search(old, new)))
        saved.delete_search.connect(lambda name: self._saved_change(lambda lib: lib.delete_search(name)))
        grid.selectionModel().currentChanged.connect(self._current_changed)
        grid.selectionModel().selectionChanged.connect(lambda *_: self.mode_changed.emit())
        grid.customContextMenuRequested.connect(self._grid_menu)
        photo_actions.find_similar.connect(self.find_similar)
        self.update_chips()

    # -- the library ------------------------------------------------------------------------------

    def set_session(self, session: LibrarySession | None) -> None:
        """A library opened (or closed: None); what was shown belonged to the old one."""
        self.session, self.query, self._retry, self._browse_scroll = session, None, False, 0
        self._reads = session.calls() if session is not None else None
        self._pages = session.calls() if session is not None else None
        self.model.set_results([])
        self.preview.attach(session.calls() if session is not None else None)
        self.grid.set_hint(DEFAULT_HINT)
        self.saved.set_searches([])
        if session is None:
            self.header.show_idle()
            return
        self.header.show_browse(None, "Opening…")
        session.query_image.connect(self.header.set_query_image)
        session.results_ready.connect(self._on_results)
        session.query_failed.connect(self._on_failed)

    def library_opened(self, supports_text: bool) -> None:
        self.header.set_text_terms(supports_text)
        self.browse()
        self.refresh_saved()

    def photos_changed(self) -> None:
        """Indexing found or saved photos: the list shown is read again, where it was."""
        if self.query is None:
            self.browse(keep_scroll=True)
        else:
            self.rerun()

    def indexing_progressed(self) -> None:
        """Photos were saved: a query that found nothing indexed yet runs again."""
        if self._retry:
            self._retry = False
            self.rerun()

    # -- browsing ---------------------------------------------------------------------------------

    def browse(self, keep_scroll: bool = False) -> None:
        """Show the chosen folder's photos (no query), read in the background."""
        self._browse(self.grid.verticalScrollBar().value() if keep_scroll else 0, fresh=not keep_scroll)

    def _browse(self, scroll: int, fresh: bool) -> None:
        session, reads = self.session, self._reads
        if session is None or session.library is None or reads is None:
            return
        library, filters, order = session.library, self.filters.filters(), self.order
        where = self.filters.folder() or "All photos"
        if fresh:
            self.header.show_browse(None, where)
        self.header.set_order(order)
        reads.cancel_all()
        reads.submit(lambda: library.browse(filters, order),
                     lambda ids: self._show_browse(ids, where, scroll, keep_selection=not fresh), self._browse_failed)

    def _show_browse(self, ids: object, where: str, scroll: int, keep_selection: bool) -> None:
        session, pages = self.session, self._pages
        if self.query is not None or session is None or session.library is None or pages is None:
            return  # a query was asked for meanwhile
        library = session.library
        pages.cancel_all()

        def load_page(page_ids: list[int], done: Callable[[dict[int, PhotoRecord]], None]) -> None:
            pages.submit(lambda: library.photos(page_ids), done)

        selection = self.grid.selectionModel()
        chosen = self.model.photo_ids(sorted({i.row() for i in selection.selectedIndexes()})) if keep_selection else []
        current = self.model.photo_ids([selection.currentIndex().row()]) if keep_selection else []
        self.model.set_browse(library.root, ids, load_page)  # type: ignore[arg-type]
        # The list read again (indexing found photos) keeps what the person had selected.
        for row in self.model.rows_of(chosen):
            selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        for row in self.model.rows_of(current):
            selection.setCurrentIndex(self.model.index(row), QItemSelectionModel.SelectionFlag.NoUpdate)
        self.header.show_browse(self.model.total, where)
        self.grid.set_hint("" if self.model.total else _empty_browse_hint(self.filters.filters().active))
        self.grid.scroll_to(scroll)
        self.mode_changed.emit()

    def _browse_failed(self, exc: BaseException) -> None:
        message = describe_error(exc)
        self.grid.set_hint(message.text)
        self.status.emit(message.text, 10000)

    def back_to_browsing(self) -> None:
        """Esc, the last term's ×, or "Back to browsing": the library again, where it was."""
        if self.query is None:
            return
        self.query = None
        self.preview.clear()
        self._browse(self._browse_scroll, fresh=True)
        self.mode_changed.emit()

    def _order_changed(self, order: str) -> None:
        self.order = order  # type: ignore[assignment]
        self.browse()

    # -- queries ----------------------------------------------------------------------------------

    def run(self, query: SearchQuery) -> None:
        if self.session is None or self.session.info is None:
            wait = "The photo folder is still opening; try again in a moment." if self.session else \
                "Choose your photo folder first."
            self.status.emit(wait, 5000)
            return
        if self.query is None:
            self._browse_scroll = self.grid.verticalScrollBar().value()
        self.query = query
        self.header.show_query(query)
        self._search()
        self.mode_changed.emit()

    def rerun(self) -> None:
        """The same query again (filters changed, photos were indexed)."""
        if self.query is not None and self.session is not None:
            self._search()
            self.header.set_detail("Searching…")

    def _search(self) -> None:
        assert self.query is not None and self.session is not None
        self.session.search(self.query, self._results_count(), self.filters.filters())

    def find_similar(self, item: GridItem) -> None:
        self.run(photos_query([item.photo]))

    def find_similar_to_selection(self) -> None:
        self._with_selected_photos(lambda photos: self.run(photos_query(photos)))

    def add_selection(self, weight: float) -> None:
        """The selected photos join the query (weight > 0) or are avoided by it (< 0)."""
        self._with_selected_photos(lambda photos: self._add_photos(photos, weight))

    def _with_selected_photos(self, then: Callable[[list[PhotoRecord]], None]) -> None:
        """``then(the selected photos)``, at once when their records are in memory, else once
        read: a browsed selection may reach pages not read yet (Ctrl+A, or a selection kept
        while indexing read the list again). Not called when nothing is selected."""
        rows = sorted({i.row() for i in self.grid.selectionModel().selectedIndexes()})
        photos = [item.photo for item in self.model.items(rows)]
        session = self.session
        if len(photos) == len(rows) or session is None or session.library is None:
            if photos:
                then(photos)
            return
        library, ids = session.library, self.model.photo_ids(rows)
        session.calls().submit(lambda: library.photos(ids),
                               lambda found: then([found[i] for i in ids if i in found]) if found else None)

    def _add_photos(self, photos: list[PhotoRecord], weight: float) -> None:
        terms = tuple(photo_term(p, weight) for p in photos)
        if self.query is None:
            if weight < 0:
                self.status.emit("Search for something first: “not like this” steers a search away.", 5000)
                return
            self.run(SearchQuery(terms))
        else:
            self.run(SearchQuery(self.query.terms + terms))

    def refine(self, text: str) -> None:
        if self.query is None:
            return
        info = self.session.info if self.session is not None else None
        try:
            term = refinement(text, info.root if info is not None else None)
        except LibraryError as exc:  # "0: people": no weight
            self._refused(text, describe_error(exc).text)
            return
        if term is None:
            return
        if term.kind == "text" and info is not None and not info.supports_text:
            self._refused(text, f"{info.model_name} understands photos only: refine with photos instead.")
            return
        self.run(self.query.with_term(term))

    def _refused(self, text: str, why: str) -> None:
        """Say why, and give the words back to the refine field to correct."""
        self.header.refine_field.setText(text)
        self.status.emit(why, 8000)

    def remove_term(self, position: int) -> None:
        if self.query is None:
            return
        rest = self.query.without(position)
        if rest.positive:
            self.run(rest)
        else:
            self.back_to_browsing()

    def _on_results(self, results: list[SearchResult], seconds: float) -> None:
        if self.query is None:
            return  # back to browsing meanwhile
        self._retry = False
        self.model.set_results(results)
        self.grid.scroll_to(0)
        self._update_detail(seconds)

    def _on_failed(self, message: UserMessage, retry: bool) -> None:
        if self.query is None:
            return
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

    # -- saved searches ---------------------------------------------------------------------------

    def save_current(self) -> None:
        session, reads = self.session, self._reads
        if self.query is None or session is None or session.library is None or reads is None:
            self.status.emit("Search for something first, then save it.", 5000)
            return
        name, ok = QInputDialog.getText(self.grid, "Save search", "Name of this search:")
        if not ok or not name.strip():
            return
        query, filters = self.query, replace(self.filters.filters(), min_score=self._min_score())
        self._saved_change(lambda lib: lib.save_search(name, query, filters), f"Saved “{name.strip()}”.")

    def open_saved(self, saved: SavedSearch) -> None:
        """Run a saved search on the current index, with its filters."""
        self.filters.apply(saved.filters)
        self.run(saved.query)

    def refresh_saved(self) -> None:
        session, reads = self.session, self._reads
        if session is not None and session.library is not None and reads is not None:
            reads.submit(session.library.saved_searches, self.saved.set_searches, self._browse_failed)

    def _saved_change(self, change: Callable[..., object], done: str = "") -> None:
        session, reads = self.session, self._reads
        if session is None or session.library is None or reads is None:
            return
        library = session.library

        def finished(_: object) -> None:
            if done:
                self.status.emit(done, 5000)
            self.refresh_saved()

        reads.submit(lambda: change(library), finished, lambda exc: self.status.emit(describe_error(exc).text, 8000))

    # -- filters ----------------------------------------------------------------------------------

    def _filters_changed(self) -> None:
        self.update_chips()
        if self.query is None:
            self.browse()
        else:
            self.rerun()

    def _min_score(self) -> float | None:
        value = self.filters.min_score()
        return value if value > 0 else None  # 0 means "any score"

    def _min_score_changed(self, _value: float) -> None:
        self.model.set_min_score(self._min_score())
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

    # -- the selection ----------------------------------------------------------------------------

    def chosen_for_export(self) -> ExportChoice:
        """What an export writes: the selection, else everything shown. Browsed rows go by photo
        id, since their records are read a page at a time and a selection (Ctrl+A, or one
        restored after indexing read the list again) reaches rows not read yet."""
        rows = sorted({i.row() for i in self.grid.selectionModel().selectedIndexes()}) or range(self.model.rowCount())
        if self.model.browsing:
            return ExportChoice(photo_ids=self.model.photo_ids(rows))
        items = self.model.items(rows)
        return ExportChoice(results=[SearchResult(i.photo, i.score if i.score is not None else math.nan, i.abs_path)
                                     for i in items])

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item = self.model.item(current.row()) if current.isValid() else None
        self.photo_actions.set_item(item)
        if item is not None:
            self.preview.show_item(item)

    def _grid_menu(self, pos: QPoint) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        if not self.grid.selectionModel().isSelected(index):
            self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        menu = QMenu(self.grid)
        menu.addActions(self._photo_menu())
        menu.exec(self.grid.viewport().mapToGlobal(pos))


def _empty_browse_hint(filtered: bool) -> str:
    if filtered:
        return "No photos in this folder and date range.\nChoose another folder or clear the filters."
    return "No photos here yet. Photos appear as soon as indexing finds them."
