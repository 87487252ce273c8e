"""What a person drops on the window or pastes: a photo to search with, or a folder to open."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

from . import incoming


class DropTarget(QObject):
    """An event filter for the window: accepts drags it can use, turns drops into requests."""

    query = Signal(object)  # SearchQuery
    folder = Signal(Path)  # a library to open; emitted after the drop, so a dialog may follow
    note = Signal(str)  # for the status bar

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, (QDragEnterEvent, QDragMoveEvent)):
            if incoming.can_use(event.mimeData()):
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        if isinstance(event, QDropEvent):
            self._drop(event)
            return True
        return False

    def _drop(self, event: QDropEvent) -> None:
        received = incoming.read(event.mimeData(), "dropped")
        if received is None:
            event.ignore()
            return
        event.acceptProposedAction()
        if received.folder is not None:
            # Deferred: a confirmation box must not run inside the drop event.
            folder = received.folder
            QTimer.singleShot(0, lambda: self.folder.emit(folder))
        else:
            self._emit(received)

    def paste(self, mime: QMimeData | None) -> None:
        received = incoming.read(mime, "pasted")
        if received is None:
            self.note.emit("The clipboard holds no image. Copy an image or an image file first.")
        elif received.folder is not None:
            self.folder.emit(received.folder)
        else:
            self._emit(received)

    def _emit(self, received: incoming.Incoming) -> None:
        if received.note:
            self.note.emit(received.note)
        self.query.emit(received.query)
