"""The side panel's saved searches: click one to run it on the current index; right-click to
rename or delete it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from ..engine.records import SavedSearch
from .queries import term_words

NAME_ROLE = int(Qt.ItemDataRole.UserRole) + 1


class SavedPanel(QWidget):
    open_search = Signal(object)  # SavedSearch
    rename_search = Signal(str, str)  # old, new
    delete_search = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("savedPanel")
        heading = QLabel("Saved searches", self)
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        self.list = QListWidget(self)
        self.list.setObjectName("savedSearches")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self.empty = QLabel("None yet. Search, then choose Save search (Ctrl+S).", self)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 8)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        self._searches: dict[str, SavedSearch] = {}
        self.set_searches([])

    def set_searches(self, searches: list[SavedSearch]) -> None:
        self._searches = {s.name: s for s in searches}
        self.list.clear()
        for s in searches:
            item = QListWidgetItem(s.name, self.list)
            item.setData(NAME_ROLE, s.name)
            terms = ", ".join(("+ " if t.weight > 0 else "− ") + term_words(t) for t in s.query.terms)
            where = f"\nIn {s.filters.folder}" if s.filters.folder else ""
            item.setToolTip(f"{terms}{where}\nSaved {s.saved_at:%Y-%m-%d %H:%M}")
        self.list.setVisible(bool(searches))
        self.empty.setVisible(not searches)

    def names(self) -> list[str]:
        return list(self._searches)

    def _activated(self, item: QListWidgetItem) -> None:
        saved = self._searches.get(item.data(NAME_ROLE))
        if saved is not None:
            self.open_search.emit(saved)

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        name = item.data(NAME_ROLE)
        menu = QMenu(self)
        menu.addAction("Run", lambda: self._activated(item))
        menu.addAction("Rename…", lambda: self._rename(name))
        menu.addAction("Delete…", lambda: self._delete(name))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _rename(self, name: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename saved search", "New name:", text=name)
        if ok and new.strip() and new.strip() != name:
            self.rename_search.emit(name, new.strip())

    def _delete(self, name: str) -> None:
        answer = QMessageBox.question(self, "Delete saved search?", f"Delete the saved search “{name}”?")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_search.emit(name)
