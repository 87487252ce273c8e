"""The main window: lays out the panes and hands them to the two controllers.

* :class:`~.library_controller.LibraryController`: the open library, its session (every piece
  of background work), indexing, the model, and the dialogs about the library;
* :class:`~.search_controller.SearchController`: the current query and its results.

Commands are in the action registry (:mod:`.actions`); nothing slow ever runs here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from .actions import MENUS, PHOTO_ACTIONS, PHOTO_MENU, SELECTION_ACTIONS, TOOLBAR, Actions
from .drops import DropTarget
from .export_dialog import export_results
from .filters_panel import FiltersPanel
from .index_status import IndexStatus
from .library_controller import LibraryController
from .messages import Messages
from .photo_actions import PhotoActions
from .photo_grid import PhotoGrid
from .photo_model import PhotoModel
from .preview_pane import PreviewPane
from .qt_types import initialise_widget_types
from .queries import file_query, text_query
from .query_header import QueryHeader
from .saved_panel import SavedPanel
from .search_controller import SearchController
from .thumbnails import ThumbnailCache
from .welcome_view import WelcomeView

if TYPE_CHECKING:
    from .jobs import LibraryInfo
    from .session import LibrarySession
    from .settings import AppSettings

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.gif *.bmp *.webp *.tif *.tiff *.heic *.heif *.avif);;All files (*)"


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
        self.setWindowTitle("PhotoSearch")
        self.setAcceptDrops(True)
        self.messages = Messages(self)
        self.commands = Actions(self)
        self.drops = DropTarget(self)
        self.installEventFilter(self.drops)
        self.thumbnails = ThumbnailCache(self)
        screen = QGuiApplication.primaryScreen()
        ratio = screen.devicePixelRatio() if screen is not None else 1.0
        self.photo_model = PhotoModel(self.thumbnails, self.prefs.thumb_size, ratio)
        self.photo_actions = PhotoActions(self.commands, self)
        self._build_panes()
        self._build_bars()
        self.search = SearchController(
            self.header, self.grid, self.photo_model, self.filters, self.saved, self.preview, self.photo_actions,
            lambda: self.commands.group(PHOTO_MENU), lambda: self.prefs.results_count,
        )
        self.library = LibraryController(self, model, weights)
        self._connect()
        self._restore_window()
        self.library.update_enabled()

    # -- construction --------------------------------------------------------------------------

    def _build_panes(self) -> None:
        self.welcome = WelcomeView(self)
        self.filters = FiltersPanel(self)
        self.filters.setAccessibleName("Filters")
        self.saved = SavedPanel(self)
        self.saved.setAccessibleName("Saved searches")
        side = QSplitter(Qt.Orientation.Vertical, self)
        side.setObjectName("sideSplitter")
        side.addWidget(self.filters)
        side.addWidget(self.saved)
        side.setStretchFactor(0, 3)
        side.setStretchFactor(1, 1)
        side.setChildrenCollapsible(False)
        self.saved.setMinimumHeight(110)
        self.header = QueryHeader(self)
        self.grid = PhotoGrid(self.photo_model, self)
        self.grid.setAccessibleName("Photos")
        center = QWidget(self)
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.setSpacing(0)
        center_layout.addWidget(self.header)
        center_layout.addWidget(self.grid, 1)
        self.preview = PreviewPane(self.commands.group(PHOTO_ACTIONS), self)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(side)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 720, 360])
        self.splitter.setChildrenCollapsible(False)

        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.splitter)
        self.setCentralWidget(self.pages)

    def _build_bars(self) -> None:
        toolbar = QToolBar("Search", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.search_field = QLineEdit(toolbar)
        self.search_field.setObjectName("textSearch")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.setMinimumWidth(260)
        self.search_field.setAcceptDrops(False)  # a dropped photo is a query, not text
        self.search_field.setAccessibleName("Search by words")
        for name in TOOLBAR:
            if name == "|search|":
                toolbar.addWidget(self.search_field)
                spacer = QWidget(toolbar)
                spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
                toolbar.addWidget(spacer)
            else:
                toolbar.addAction(self.commands[name])
        self.addToolBar(toolbar)
        for title, names in MENUS:
            self.menuBar().addMenu(title).addActions(self.commands.group(names))
        self.header.save.setDefaultAction(self.commands["save_search"])
        self.addActions(self.commands.group(("find_words", "back_to_browsing", *PHOTO_ACTIONS, *SELECTION_ACTIONS)))

        self.index_status = IndexStatus(self)
        self.summary = QLabel(self)
        self.summary.setObjectName("librarySummary")
        self.statusBar().addPermanentWidget(self.index_status)
        self.statusBar().addPermanentWidget(self.summary)

    def _connect(self) -> None:
        status = self.statusBar()
        a = self.commands
        a.connect("open_image", self.open_image_dialog)
        a.connect("paste_image", lambda: self.drops.paste(QGuiApplication.clipboard().mimeData()))
        a.connect("find_words", lambda: self.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason))
        a.connect("quit", self.close)
        a.connect("about", self._about)
        a.connect("find_similar_selected", self.search.find_similar_to_selection)
        a.connect("add_to_search", lambda: self.search.add_selection(1.0))
        a.connect("not_like_this", lambda: self.search.add_selection(-1.0))
        a.connect("back_to_browsing", self.search.back_to_browsing)
        a.connect("save_search", self.search.save_current)
        a.connect("export_results", self._export)
        self.search_field.returnPressed.connect(self.search_text)
        self.grid.activated_item.connect(lambda _: self.commands["open_photo"].trigger())
        self.search.mode_changed.connect(self._update_search_actions)
        self.drops.query.connect(self.search.run)
        self.drops.note.connect(lambda text: status.showMessage(text, 5000))
        self.search.status.connect(status.showMessage)
        self.photo_actions.message.connect(lambda text: status.showMessage(text, 5000))

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

    # -- what the window offers ------------------------------------------------------------------

    @property
    def session(self) -> LibrarySession | None:
        return self.library.session

    @property
    def info(self) -> LibraryInfo | None:
        return self.library.info

    def start(self, library: Path | None) -> None:
        self.library.start(library)

    def search_text(self) -> None:
        text = self.search_field.text().strip()
        if text and self.search_field.isEnabled():
            self.search.run(text_query(text))

    def open_image_dialog(self) -> None:
        files = [t.text for t in self.search.query.terms if t.kind == "file"] if self.search.query else []
        start = str(Path(files[0]).parent) if files else self.prefs.library
        path, _ = QFileDialog.getOpenFileName(self, "Search with an image", start, IMAGE_FILTER)
        if path:
            self.search.run(file_query([Path(path)]))

    def _update_search_actions(self) -> None:
        querying = self.search.query is not None
        selected = len(self.grid.selectionModel().selectedIndexes())
        c = self.commands
        for name in ("back_to_browsing", "save_search"):
            c[name].setEnabled(querying)
        c["find_similar_selected"].setEnabled(selected > 0)
        c["find_similar_selected"].setText(f"Find similar to these ({selected})" if selected > 1 else "Find similar to these")
        c["add_to_search"].setEnabled(selected > 0)
        c["not_like_this"].setEnabled(selected > 0 and querying)
        c["export_results"].setEnabled(self.photo_model.rowCount() > 0)

    def _export(self) -> None:
        if self.session is not None:
            export_results(self, self.session, self.search.chosen_for_export(),
                           lambda text: self.statusBar().showMessage(text, 8000))

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About PhotoSearch",
            f"PhotoSearch Desktop {__version__}\n\nSearch your own photos by what they look like. "
            "Everything runs on this computer; nothing is uploaded.",
        )

    @property
    def clean_shutdown(self) -> bool:
        return self.library.clean_shutdown

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window_state(self.saveGeometry(), self.saveState(), self.splitter.saveState())
        self.messages.close_all()
        self.hide()  # feels instant while indexing finishes its current batch
        self.library.close()
        event.accept()
