"""The main window: wires the panes to one :class:`~.session.LibrarySession`.

Everything slow happens in the session's worker threads or on thread pools; the handlers
here only move finished results into widgets.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..engine.library import DEFAULT_MODEL, app_dirs
from . import incoming as incoming_data
from .duplicates_dialog import DuplicatesDialog
from .errors import MODEL_ERROR_TITLE, UserMessage, describe_error
from .filters_panel import FiltersPanel
from .index_status import IndexStatus, duration
from .jobs import IndexOutcome, LibraryInfo, OpenRequest, Query
from .preview_pane import PreviewPane
from .qt_types import initialise_widget_types
from .query_header import QueryHeader
from .result_actions import ResultActions
from .result_grid import DEFAULT_HINT, ResultGrid
from .result_model import ResultModel
from .session import LibrarySession
from .settings import AppSettings, Preferences
from .settings_dialog import SettingsDialog
from .skipped_dialog import SkippedDialog
from .tasks import BackgroundCalls
from .thumbnails import ThumbnailCache
from .welcome_view import WelcomeView

if TYPE_CHECKING:
    from ..engine.records import Progress, SearchResult

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.gif *.bmp *.webp *.tif *.tiff *.heic *.heif *.avif);;All files (*)"
WELCOME_PAGE, LIBRARY_PAGE = 0, 1


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: AppSettings,
        data_dir: Path | None = None,
        model: str | None = None,
        weights: Path | None = None,
    ) -> None:
        super().__init__()
        initialise_widget_types()  # before any worker competes for the GIL
        self.settings = settings
        self.prefs = settings.preferences()
        if model and model != self.prefs.model:
            # --model: the model of the library opened next, and the choice for new ones.
            self.prefs = replace(self.prefs, model=model)
            settings.save_preferences(self.prefs)
        self.data_dir = data_dir
        self._model_override = model
        self._weights = weights
        self.session: LibrarySession | None = None
        self.query: Query | None = None
        self._model_state = ""
        self._open_boxes: dict[str, QMessageBox] = {}
        self.skipped_dialog: SkippedDialog | None = None
        self.duplicates_dialog: DuplicatesDialog | None = None
        self.clean_shutdown = True
        self._last_seconds: float | None = None
        self._index_phase = ""
        self._notices_shown: set[str] = set()
        self._retry_query = False  # the query came too early: run it again as indexing goes on

        self.setWindowTitle("PhotoSearch")
        self.setAcceptDrops(True)
        self._calls = BackgroundCalls(1, self)  # short catalog reads
        self.thumbnails = ThumbnailCache(app_dirs(data_dir).thumbnails, self)
        screen = QGuiApplication.primaryScreen()
        ratio = screen.devicePixelRatio() if screen is not None else 1.0
        self.result_model = ResultModel(self.thumbnails, self.prefs.thumb_size, ratio)
        self.result_actions = ResultActions(self)
        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._restore_window()
        self._update_enabled()

    # -- construction --------------------------------------------------------------------------

    def _build_actions(self) -> None:
        icon = self.style().standardIcon
        self.act_choose_library = QAction("Choose photo folder…", self)
        self.act_choose_library.triggered.connect(self.choose_library)
        self.act_open_image = QAction(icon(QStyle.StandardPixmap.SP_DialogOpenButton), "Open image…", self)
        self.act_open_image.setShortcut(QKeySequence.StandardKey.Open)
        self.act_open_image.setToolTip("Search with an image file (Ctrl+O) — or drop one onto the window")
        self.act_open_image.triggered.connect(self.open_image_dialog)
        self.act_paste = QAction(icon(QStyle.StandardPixmap.SP_FileDialogContentsView), "Paste image", self)
        self.act_paste.setShortcut(QKeySequence.StandardKey.Paste)
        self.act_paste.setToolTip("Search with the image on the clipboard (Ctrl+V)")
        self.act_paste.triggered.connect(self.paste_query)
        self.act_update = QAction(icon(QStyle.StandardPixmap.SP_BrowserReload), "Update index", self)
        self.act_update.setShortcut(QKeySequence.StandardKey.Refresh)
        self.act_update.setToolTip("Index new, changed, moved and deleted photos (F5)")
        self.act_update.triggered.connect(self.update_index)
        self.act_skipped = QAction(icon(QStyle.StandardPixmap.SP_MessageBoxWarning), "Skipped files", self)
        self.act_skipped.setToolTip("Files that could not be indexed, and why")
        self.act_skipped.triggered.connect(self.show_skipped)
        self.act_duplicates = QAction(icon(QStyle.StandardPixmap.SP_FileDialogListView), "Find duplicates", self)
        self.act_duplicates.setToolTip("Groups of near-duplicate photos in the library (or the chosen folder)")
        self.act_duplicates.triggered.connect(self.show_duplicates)
        self.act_settings = QAction(icon(QStyle.StandardPixmap.SP_FileDialogDetailedView), "Settings", self)
        self.act_settings.setShortcut(QKeySequence.StandardKey.Preferences)
        self.act_settings.triggered.connect(self.open_settings)
        self.act_find = QAction("Search by words", self)
        self.act_find.setShortcut(QKeySequence.StandardKey.Find)
        self.act_find.triggered.connect(lambda: self.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason))
        self.act_quit = QAction("Quit", self)
        self.act_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.act_quit.triggered.connect(self.close)
        self.addActions([self.act_find, *self.result_actions.all])
        self.result_actions.find_similar.connect(self.find_similar)
        self.result_actions.message.connect(lambda text: self.statusBar().showMessage(text, 5000))

    def _build_ui(self) -> None:
        toolbar = QToolBar("Search", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.act_open_image)
        toolbar.addAction(self.act_paste)
        self.search_field = QLineEdit(toolbar)
        self.search_field.setObjectName("textSearch")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.setMinimumWidth(260)
        self.search_field.setAcceptDrops(False)  # a dropped photo is a query, not text
        self.search_field.returnPressed.connect(self.search_text)
        toolbar.addWidget(self.search_field)
        spacer = QWidget(toolbar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        toolbar.addAction(self.act_update)
        toolbar.addAction(self.act_skipped)
        toolbar.addAction(self.act_duplicates)
        toolbar.addAction(self.act_settings)
        self.addToolBar(toolbar)

        self.welcome = WelcomeView(self)
        self.welcome.choose_folder.connect(self.choose_library)

        self.filters = FiltersPanel(self)
        self.filters.filters_changed.connect(self._filters_changed)
        self.filters.min_score_changed.connect(self._min_score_changed)

        self.header = QueryHeader(self)
        chips = self.header.chips
        chips.clear_folder.connect(self.filters.clear_folder)
        chips.clear_dates.connect(self.filters.clear_dates)
        chips.clear_min_score.connect(self.filters.clear_min_score)
        chips.clear_all.connect(self._clear_filters)
        self.grid = ResultGrid(self.result_model, self)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.activated_result.connect(lambda _: self.result_actions.open.trigger())
        self.grid.customContextMenuRequested.connect(self._grid_menu)
        self.grid.setAccessibleName("Search results")
        self.filters.setAccessibleName("Filters")
        self.search_field.setAccessibleName("Search by words")
        center = QWidget(self)
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.setSpacing(0)
        center_layout.addWidget(self.header)
        center_layout.addWidget(self.grid, 1)

        self.preview = PreviewPane(self.result_actions, self)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.filters)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 720, 360])
        self.splitter.setChildrenCollapsible(False)

        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.splitter)
        self.setCentralWidget(self.pages)

        self.index_status = IndexStatus(self)
        self.index_status.cancel_requested.connect(self.cancel_index)
        self.summary = QLabel(self)
        self.summary.setObjectName("librarySummary")
        self.statusBar().addPermanentWidget(self.index_status)
        self.statusBar().addPermanentWidget(self.summary)
        self._update_filter_chips()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.act_choose_library, self.act_open_image, self.act_paste])
        file_menu.addSeparator()
        file_menu.addAction(self.act_settings)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        library_menu = self.menuBar().addMenu("&Library")
        library_menu.addActions([self.act_update, self.act_skipped, self.act_duplicates])
        photo_menu = self.menuBar().addMenu("&Photo")
        photo_menu.addActions(self.result_actions.all)
        help_menu = self.menuBar().addMenu("&Help")
        about = help_menu.addAction("About PhotoSearch")
        about.triggered.connect(self._about)

    def _restore_window(self) -> None:
        state = self.settings.window_state()
        if "geometry" in state:
            self.restoreGeometry(state["geometry"])
        else:
            self.resize(1320, 820)
        if "state" in state:
            self.restoreState(state["state"])
        if "splitter" in state:
            self.splitter.restoreState(state["splitter"])

    # -- the library -----------------------------------------------------------------------------

    @property
    def info(self) -> LibraryInfo | None:
        return self.session.info if self.session is not None else None

    def start(self, library: Path | None) -> None:
        """Open ``library`` (or the last one) once the window is on screen."""
        target = library or (Path(self.prefs.library) if self.prefs.library else None)
        if target is not None:
            self.open_library(target)

    def choose_library(self) -> None:
        start = self.prefs.library or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose your photo folder", start)
        if folder:
            self.open_library(Path(folder))

    def open_library(self, root: Path, model: str | None = None) -> None:
        """Open ``root`` in the background; indexing starts as soon as it is open.

        ``model`` forces a model (the user confirmed the switch); otherwise an indexed
        library keeps its own model and a new one gets the preferred model.
        """
        self._close_session()
        request = OpenRequest(
            root=root,
            data_dir=self.data_dir,
            model=model or self._model_override,
            default_model=self.prefs.model or None,
            device=None if self.prefs.device == "auto" else self.prefs.device,
            weights=self._weights,
        )
        self._model_override = None
        session = LibrarySession(request, self)
        session.opened.connect(self._on_opened)
        session.open_failed.connect(self._on_open_failed)
        session.model_loading.connect(lambda: self._set_model_state("loading"))
        session.model_ready.connect(lambda: self._set_model_state("ready"))
        session.model_failed.connect(self._on_model_failed)
        session.index_started.connect(self._on_index_started)
        session.index_progress.connect(self._on_index_progress)
        session.index_finished.connect(self._on_index_finished)
        session.index_failed.connect(self._on_index_failed)
        session.query_image.connect(self.header.set_query_image)
        session.results_ready.connect(self._on_results)
        session.query_failed.connect(self._on_query_failed)
        self.session = session
        self._model_state = ""
        self.statusBar().showMessage(f"Opening {root}…")
        self.summary.setText("")
        self.pages.setCurrentIndex(LIBRARY_PAGE)
        self._update_enabled()
        if self.isVisible():
            # Lay out and paint the library page now, before a worker starts importing: its
            # widgets' Python overrides each wait for the GIL while an import holds it.
            self.repaint()
        session.open()

    def _close_session(self) -> None:
        if self.session is None:
            return
        session, self.session = self.session, None
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.close()  # it works on this session's library
        if not session.close():
            self.clean_shutdown = False
            log.error("a worker thread did not stop in time; it is left to finish on its own")
        else:
            session.deleteLater()
        self.index_status.hide()
        self.query = None
        self.result_model.set_results([])
        self.preview.clear()
        self.header.show_idle()
        self.grid.set_hint(DEFAULT_HINT)

    def _on_opened(self, info: LibraryInfo) -> None:
        self.prefs = replace(self.prefs, library=str(info.root))
        self.settings.save_preferences(self.prefs)
        self.setWindowTitle(f"PhotoSearch — {info.root.name}")
        self.thumbnails.set_cache_dir(info.thumbnails_dir)
        self.filters.set_folders(info.folders, info.root.name)
        self.statusBar().showMessage(f"Opened {info.root}", 4000)
        self._show_notices(info)
        self._update_summary()
        self._update_enabled()
        assert self.session is not None
        self.session.start_index()

    def _on_open_failed(self, message: UserMessage) -> None:
        self._close_session()
        self.pages.setCurrentIndex(WELCOME_PAGE)
        self.setWindowTitle("PhotoSearch")
        self.statusBar().showMessage(message.text, 10000)
        self._update_enabled()
        self.show_message(message)

    def _show_notices(self, info: LibraryInfo) -> None:
        for notice in info.notices:
            if notice not in self._notices_shown:
                self._notices_shown.add(notice)
                self.show_message(UserMessage("About this library", notice))

    def _set_model_state(self, state: str) -> None:
        self._model_state = state
        self._update_summary()

    def _on_model_failed(self, message: UserMessage) -> None:
        self._set_model_state("failed")
        self.show_message(message)

    def _update_summary(self) -> None:
        info = self.info
        if info is None:
            self.summary.setText("")
            return
        parts = []
        if self.session is None or not self.session.indexing:  # while indexing the strip shows progress
            parts.append(f"{info.indexed} photo{'s' if info.indexed != 1 else ''} indexed")
        if info.skipped:
            parts.append(f"{info.skipped} skipped")
        model = {"loading": f"loading {info.model_name}…", "failed": f"{info.model_name} unavailable"}
        parts.append(model.get(self._model_state, info.model_name))
        self.summary.setText(" · ".join(parts))
        self.act_skipped.setText(f"Skipped files ({info.skipped})" if info.skipped else "Skipped files")

    def _update_enabled(self) -> None:
        info = self.info
        is_open = info is not None
        indexing = self.session is not None and self.session.indexing
        self.act_update.setEnabled(is_open and not indexing)
        self.act_update.setToolTip("Indexing is running…" if indexing else "Index new, changed, moved and deleted photos (F5)")
        self.act_skipped.setEnabled(is_open)
        self.act_duplicates.setEnabled(is_open)
        self.act_open_image.setEnabled(is_open)
        self.act_paste.setEnabled(is_open)
        text_ok = is_open and info.supports_text
        self.search_field.setEnabled(text_ok)
        if not is_open:
            self.search_field.setPlaceholderText("Describe a photo…")
            self.search_field.setToolTip("Open a photo folder first.")
        elif text_ok:
            self.search_field.setPlaceholderText("Describe a photo, e.g. “dog on a beach” (Enter)")
            self.search_field.setToolTip("Search with words (Ctrl+F, then Enter)")
        else:
            self.search_field.setPlaceholderText("Text search needs a CLIP model")
            self.search_field.setToolTip(
                f"The model {info.model_name} understands photos only, so it cannot search with words.\n"
                "Choose a CLIP model in Settings to search by text."
            )

    # -- indexing ----------------------------------------------------------------------------------

    def _on_index_started(self) -> None:
        self._index_phase = ""
        self.index_status.start()
        self._update_summary()
        self._update_enabled()

    def update_index(self) -> None:
        if self.session is not None:
            self.session.start_index()  # refused while a run is going: one at a time

    def cancel_index(self) -> None:
        if self.session is not None:
            self.session.cancel_index()

    def _on_index_progress(self, progress: Progress) -> None:
        if self._retry_query:
            self._retry_query = False
            self._rerun(new_query=False)
        first_embedding = progress.phase == "embedding" and self._index_phase != "embedding"
        self._index_phase = progress.phase
        self.index_status.update_progress(progress)
        if first_embedding and self.session is not None and self.session.library is not None:
            # The scan is done: new folders can be chosen while their photos are indexed.
            library = self.session.library
            self._calls.submit(library.folders, lambda folders: self.filters.set_folders(folders, library.root.name))

    def _on_index_finished(self, outcome: IndexOutcome) -> None:
        self.index_status.hide()
        r, info = outcome.report, outcome.info
        if r.cancelled:
            text = f"Indexing stopped. {info.pending} photos still to do — choose Update index to continue."
        else:
            changes = f"{r.added} new, {r.modified} changed, {r.moved} moved, {r.deleted} deleted"
            text = f"Index up to date ({changes}; {r.embedded} indexed, {r.skipped} skipped in {duration(r.seconds)})."
        if r.rebuilt_for_model:
            text += f" Rebuilt for {r.rebuilt_for_model}."
        self.statusBar().showMessage(text, 15000)
        self.filters.set_folders(info.folders, info.root.name)
        self._show_notices(info)
        self._update_summary()
        self._update_enabled()
        if r.added or r.modified or r.moved or r.deleted or r.embedded:
            self.thumbnails.forget()  # changed files get new thumbnails
            self._rerun(new_query=False)  # results refresh with what was just indexed
            if self.duplicates_dialog is not None:
                self.duplicates_dialog.refresh()

    def _on_index_failed(self, message: UserMessage) -> None:
        self.index_status.hide()
        self._update_enabled()
        self.statusBar().showMessage(message.text, 15000)
        self.show_message(message)

    # -- queries -----------------------------------------------------------------------------------

    def run_query(self, query: Query) -> None:
        if self.session is None or self.info is None:
            wait = "The photo folder is still opening; try again in a moment." if self.session else \
                "Choose your photo folder first."
            self.statusBar().showMessage(wait, 5000)
            return
        self.query = query
        self.header.show_query(query.label, query.kind == "text")
        self._rerun(new_query=True)

    def _rerun(self, new_query: bool) -> None:
        if self.query is None or self.session is None:
            return
        self.session.search(self.query, self.prefs.results_count, self.filters.filters())
        if not new_query:
            self.header.set_detail("Searching…")

    def search_text(self) -> None:
        text = self.search_field.text().strip()
        if text and self.search_field.isEnabled():
            self.run_query(Query.from_text(text))

    def open_image_dialog(self) -> None:
        start = str(Path(self.query.path).parent) if self.query and self.query.path else self.prefs.library
        path, _ = QFileDialog.getOpenFileName(self, "Search with an image", start, IMAGE_FILTER)
        if path:
            self.run_query(Query.from_file(Path(path)))

    def paste_query(self) -> None:
        incoming = incoming_data.read(QGuiApplication.clipboard().mimeData(), "pasted")
        if incoming is None:
            self.statusBar().showMessage("The clipboard holds no image. Copy an image or an image file first.", 5000)
        else:
            self._receive(incoming)

    def find_similar(self, result: SearchResult) -> None:
        self.run_query(Query.from_photo(result.photo.id, result.photo.rel_path, Path(result.abs_path)))

    def _on_results(self, results: list[SearchResult], seconds: float) -> None:
        self._retry_query = False
        self.result_model.set_results(results)
        self.grid.scrollToTop()
        self._update_result_detail(seconds)

    def _update_result_detail(self, seconds: float | None = None) -> None:
        shown, total = self.result_model.rowCount(), self.result_model.total
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

    def _on_query_failed(self, message: UserMessage, retry: bool) -> None:
        self._retry_query = retry and self.session is not None and self.session.indexing
        self.result_model.set_results([])
        self.header.set_detail(message.title)
        self.grid.set_hint(message.text)
        self.statusBar().showMessage(message.text, 10000)

    # -- filters ---------------------------------------------------------------------------------

    def _filters_changed(self) -> None:
        self._update_filter_chips()
        self._rerun(new_query=False)

    def _min_score_changed(self, value: float) -> None:
        self.result_model.set_min_score(value if value > 0 else None)  # 0 means "any score"
        self._update_filter_chips()
        if self.query is not None:
            self._update_result_detail()

    def _update_filter_chips(self) -> None:
        start, end = self.filters.date_range()
        self.header.chips.update_chips(
            self.filters.folder(), start, end, self.filters.undated_check.isChecked(), self.filters.min_score()
        )

    def _clear_filters(self) -> None:
        self.filters.clear_min_score()
        self.filters.clear_dates()
        self.filters.clear_folder()

    # -- results -----------------------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        result = self.result_model.result(current.row()) if current.isValid() else None
        self.result_actions.set_result(result)
        if result is not None:
            self.preview.show_result(result)

    def _grid_menu(self, pos: QPoint) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        menu = QMenu(self)
        menu.addActions(self.result_actions.all)
        menu.exec(self.grid.viewport().mapToGlobal(pos))

    # -- skipped files -------------------------------------------------------------------------------

    def show_skipped(self) -> None:
        if self.session is None or self.session.library is None:
            return
        if self.skipped_dialog is None:
            self.skipped_dialog = SkippedDialog(self)
        dialog = self.skipped_dialog
        dialog.set_error("Loading…")
        dialog.show()
        dialog.raise_()
        library = self.session.library
        self._calls.submit(library.skipped, dialog.set_files,
                           lambda exc: dialog.set_error(describe_error(exc).text))

    # -- duplicates ----------------------------------------------------------------------------------

    def show_duplicates(self) -> None:
        if self.session is None or self.session.library is None or self.info is None:
            return
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.close()
        dialog = DuplicatesDialog(self.session.library, self.info.thumbnails_dir, self.filters.folder(), self)
        # Trashed photos leave the library: the index follows (and then the dialog regroups).
        dialog.trashed.connect(lambda _paths: self.update_index())
        dialog.finished.connect(lambda _result: self._duplicates_closed(dialog))
        self.duplicates_dialog = dialog
        dialog.show()
        dialog.start()

    def _duplicates_closed(self, dialog: DuplicatesDialog) -> None:
        if self.duplicates_dialog is dialog:
            self.duplicates_dialog = None

    # -- settings ------------------------------------------------------------------------------------

    def open_settings(self) -> None:
        info = self.info
        current_model = info.model_name if info else (self.prefs.model or "")
        if not current_model:
            current_model = DEFAULT_MODEL
        dialog = SettingsDialog(self.prefs, current_model, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.apply_preferences(dialog.preferences(), current_model)

    def apply_preferences(self, new: Preferences, current_model: str) -> None:
        old = self.prefs
        info = self.info
        model_changed = new.model != current_model
        if model_changed and info is not None and info.indexed_model and info.indexed_model != new.model:
            answer = QMessageBox.question(
                self,
                "Re-index with another model?",
                f"The library is indexed with {info.indexed_model}. Switching to {new.model} indexes all "
                f"{info.indexed + info.pending} photos again, which can take a while. Search results use the "
                "new model once it is done.\n\nSwitch the model?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                new = replace(new, model=current_model)
                model_changed = False
        self.prefs = new
        self.settings.save_preferences(new)
        if new.thumb_size != old.thumb_size:
            self.grid.set_thumb_size(new.thumb_size)
        library_changed = bool(new.library) and (info is None or Path(new.library) != info.root)
        if library_changed:
            self.open_library(Path(new.library))
        elif info is not None and (model_changed or new.device != old.device):
            self.open_library(info.root, model=new.model if model_changed else None)
        elif new.results_count != old.results_count:
            self._rerun(new_query=False)

    # -- drag and drop ---------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if incoming_data.can_use(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if incoming_data.can_use(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        incoming = incoming_data.read(event.mimeData(), "dropped")
        if incoming is None:
            event.ignore()
            return
        event.acceptProposedAction()
        if incoming.folder is not None:
            # Deferred: a confirmation box must not run inside the drop event.
            folder = incoming.folder
            QTimer.singleShot(0, lambda: self._folder_dropped(folder))
        else:
            self._receive(incoming)

    def _receive(self, incoming: incoming_data.Incoming) -> None:
        if incoming.folder is not None:
            self._folder_dropped(incoming.folder)
            return
        if incoming.note:
            self.statusBar().showMessage(incoming.note, 5000)
        assert incoming.query is not None
        self.run_query(incoming.query)

    def _folder_dropped(self, folder: Path) -> None:
        info = self.info
        if info is not None and folder.resolve() == info.root:
            return
        if info is not None:
            answer = QMessageBox.question(self, "Switch library?", f"Search the photos in {folder} instead of {info.root}?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.open_library(folder)

    # -- messages ---------------------------------------------------------------------------------------

    def show_message(self, message: UserMessage) -> None:
        """A non-blocking dialog; the same message is not stacked twice (loading the model
        and indexing both fail the same way when the model cannot be had)."""
        box = self._open_boxes.get(message.text)
        if box is not None and box.isVisible():
            box.raise_()
            return
        text = message.text
        if message.title == MODEL_ERROR_TITLE:
            text += "\n\nYou can choose another model in Settings."
        box = QMessageBox(QMessageBox.Icon.Warning, message.title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorMessage")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _: self._open_boxes.pop(message.text, None))
        self._open_boxes[message.text] = box
        box.open()

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About PhotoSearch",
            f"PhotoSearch Desktop {__version__}\n\nSearch your own photos by what they look like. "
            "Everything runs on this computer; nothing is uploaded.",
        )

    # -- closing --------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window_state(self.saveGeometry(), self.saveState(), self.splitter.saveState())
        for box in list(self._open_boxes.values()):
            box.close()
        self.hide()  # feels instant while indexing finishes its current batch
        self._close_session()
        self.thumbnails.shutdown()
        self.preview.shutdown()
        self._calls.shutdown(2000)
        event.accept()

