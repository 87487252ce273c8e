"""Open / Show in folder / Copy path / Find similar: one set of actions shared by the preview
pane's buttons, the grid's context menu and keyboard shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence

from . import desktop

if TYPE_CHECKING:
    from ..engine.records import SearchResult


class ResultActions(QObject):
    find_similar = Signal(object)  # SearchResult
    message = Signal(str)  # feedback for the status bar

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._result: SearchResult | None = None
        self.open = QAction("Open", parent)
        self.open.setToolTip("Open the photo in your default viewer (double-click, Enter)")
        self.show_in_folder = QAction("Show in folder", parent)
        self.show_in_folder.setToolTip("Show the photo in your file manager")
        self.copy_path = QAction("Copy path", parent)
        self.copy_path.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_path.setToolTip("Copy the photo's full path (Ctrl+Shift+C)")
        self.similar = QAction("Find similar", parent)
        self.similar.setShortcut(QKeySequence("Ctrl+Shift+F"))
        self.similar.setToolTip("Search for photos that look like this one (Ctrl+Shift+F)")
        self.open.triggered.connect(self._open)
        self.show_in_folder.triggered.connect(self._show)
        self.copy_path.triggered.connect(self._copy)
        self.similar.triggered.connect(self._similar)
        self.set_result(None)

    @property
    def all(self) -> list[QAction]:
        return [self.open, self.show_in_folder, self.copy_path, self.similar]

    @property
    def result(self) -> SearchResult | None:
        return self._result

    def set_result(self, result: SearchResult | None) -> None:
        self._result = result
        for action in self.all:
            action.setEnabled(result is not None)

    def _path(self) -> Path | None:
        return Path(self._result.abs_path) if self._result is not None else None

    def _open(self) -> None:
        path = self._path()
        if path is not None and not desktop.open_file(path):
            self.message.emit(f"No app is set up to open {path.name}.")

    def _show(self) -> None:
        path = self._path()
        if path is not None and not desktop.show_in_folder(path):
            self.message.emit(f"Could not open the folder of {path.name}.")

    def _copy(self) -> None:
        path = self._path()
        if path is not None:
            desktop.copy_path(path)
            self.message.emit(f"Copied {path}")

    def _similar(self) -> None:
        if self._result is not None:
            self.find_similar.emit(self._result)
