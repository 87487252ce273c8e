"""What the current photo's actions do: Open, Show in folder, Copy path, Find similar (the
actions themselves are in the registry, :mod:`.actions`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from . import desktop
from .actions import PHOTO_ACTIONS, Actions

if TYPE_CHECKING:
    from .photo_model import GridItem


class PhotoActions(QObject):
    find_similar = Signal(object)  # GridItem
    message = Signal(str)  # feedback for the status bar

    def __init__(self, actions: Actions, parent: QObject) -> None:
        super().__init__(parent)
        self._actions = actions
        self._item: GridItem | None = None
        actions.connect("open_photo", self._open)
        actions.connect("show_in_folder", self._show)
        actions.connect("copy_path", self._copy)
        actions.connect("find_similar", self._similar)
        self.set_item(None)

    @property
    def item(self) -> GridItem | None:
        return self._item

    def set_item(self, item: GridItem | None) -> None:
        self._item = item
        self._actions.enable(PHOTO_ACTIONS, item is not None)

    def _path(self) -> Path | None:
        return Path(self._item.abs_path) if self._item is not None else None

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
        if self._item is not None:
            self.find_similar.emit(self._item)
