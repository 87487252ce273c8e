"""What a person hands the window by dropping or pasting: a folder, an image file, or image
data (e.g. an image copied in a browser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

from .jobs import Query


@dataclass(frozen=True)
class Incoming:
    folder: Path | None = None  # a photo library to open
    query: Query | None = None  # something to search with
    note: str = ""  # said in the status bar, e.g. that only the first of several files is used


def can_use(mime: QMimeData | None) -> bool:
    """Cheap enough for every drag-move event: nothing is decoded here."""
    if mime is None:
        return False
    return bool(_local_paths(mime)) or mime.hasImage()


def read(mime: QMimeData | None, source: str) -> Incoming | None:
    """The folder or query that ``mime`` carries (``source``: "dropped" or "pasted")."""
    if mime is None:
        return None
    paths = _local_paths(mime)
    if paths:
        first = paths[0]
        if first.is_dir():
            return Incoming(folder=first)
        note = f"Searching with the first of the {len(paths)} {source} files." if len(paths) > 1 else ""
        return Incoming(query=Query.from_file(first), note=note)
    if mime.hasImage():
        image = QImage(mime.imageData())
        if not image.isNull():
            return Incoming(query=Query.from_image(image, f"the {source} image"))
    return None


def _local_paths(mime: QMimeData) -> list[Path]:
    if mime.hasUrls():
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if paths:
            return paths
    if mime.hasText():  # a path copied as text, e.g. from a terminal
        text = mime.text().strip()
        if text and "\n" not in text and len(text) < 4096 and Path(text).exists():
            return [Path(text)]
    return []
