"""What a person hands the window by dropping or pasting: a folder, an image file, or image
data (e.g. an image copied in a browser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

from ..engine.records import SearchQuery
from .queries import file_query, image_query


@dataclass(frozen=True)
class Incoming:
    folder: Path | None = None  # a photo library to open
    query: SearchQuery | None = None  # something to search with
    note: str = ""  # said in the status bar


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
        if paths[0].is_dir():
            return Incoming(folder=paths[0])
        files = [p for p in paths if not p.is_dir()]
        skipped = len(paths) - len(files)
        note = f"Folders among the {source} files were left out." if skipped else ""
        return Incoming(query=file_query(files), note=note)  # several: what they have in common
    if mime.hasImage():
        image = QImage(mime.imageData())
        if not image.isNull():
            return Incoming(query=image_query(image, f"the {source} image"))
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
