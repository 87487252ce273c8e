"""Telling the person something: a non-blocking dialog, never the same one stacked twice."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from .errors import UserMessage


class Messages:
    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self._open: dict[str, QMessageBox] = {}

    def show(self, message: UserMessage, remedy: tuple[str, Callable[[], None]] | None = None) -> None:
        """Loading the model and indexing fail the same way when the model cannot be had:
        the second box only raises the first. ``remedy``: a button (its text, and what it does)
        beside OK."""
        box = self._open.get(message.text)
        if box is not None and box.isVisible():
            box.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Warning, message.title, message.text, QMessageBox.StandardButton.Ok,
                          self._parent)
        box.setObjectName("errorMessage")
        if remedy is not None:
            text, act = remedy
            button = box.addButton(text, QMessageBox.ButtonRole.AcceptRole)
            button.setObjectName("remedy")
            button.clicked.connect(act)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _: self._open.pop(message.text, None))
        self._open[message.text] = box
        box.open()

    def close_all(self) -> None:
        for box in list(self._open.values()):
            box.close()
