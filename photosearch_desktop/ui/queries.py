"""Building queries from what a person does in the window, and saying them in words."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage

from ..engine.library import parse_weight
from ..engine.records import PhotoRecord, QueryTerm, SearchQuery

PIXELS_MAX_SIDE = 512  # a pasted image is kept this small: the models see 224-260 px
_IMAGE_SUFFIXES = frozenset(".jpg .jpeg .jpe .png .gif .bmp .webp .tif .tiff .heic .heif .avif".split())


def file_query(paths: Sequence[Path]) -> SearchQuery:
    return SearchQuery(tuple(QueryTerm("file", str(p)) for p in paths))


def photos_query(photos: Sequence[PhotoRecord]) -> SearchQuery:
    return SearchQuery(tuple(photo_term(p) for p in photos))


def photo_term(photo: PhotoRecord, weight: float = 1.0) -> QueryTerm:
    return QueryTerm("photo", photo.rel_path, photo_id=photo.id, weight=weight)


def text_query(text: str) -> SearchQuery:
    return SearchQuery((QueryTerm("text", text),))


def image_query(image: QImage, label: str) -> SearchQuery:
    """A query for image data (pasted, or dropped from a browser), kept as a small PNG."""
    if max(image.width(), image.height()) > PIXELS_MAX_SIDE:
        image = image.scaled(PIXELS_MAX_SIDE, PIXELS_MAX_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # PySide6 6.11 refuses the bytes its stub asks for
    return SearchQuery((QueryTerm("pixels", label, pixels=bytes(data.data())),))


def refinement(text: str, library_root: Path | None) -> QueryTerm | None:
    """A term typed into the refine field: "+ at sunset", "- people", "2: at sunset",
    "-0.5: 2019/IMG_1.jpg" (a photo of the library), "- /home/me/Desktop/crowd.jpg" (a file)."""
    text = text.strip()
    sign = 1.0
    if text[:1] in ("-", "−"):
        sign, text = -1.0, text[1:].strip()
    elif text[:1] == "+":
        text = text[1:].strip()
    weight, value = parse_weight(text)
    if not value:
        return None
    if Path(value).suffix.lower() in _IMAGE_SUFFIXES:
        path = Path(value).expanduser()
        if path.is_absolute() or library_root is None:
            return QueryTerm("file", str(path), weight=sign * weight)
        return QueryTerm("photo", path.as_posix(), weight=sign * weight)  # found by path
    return QueryTerm("text", value, weight=sign * weight)


def term_words(term: QueryTerm) -> str:
    """A term as a chip reads: "“sunset”", "trip_00.jpg", "2× “at sunset”"."""
    name = f"“{term.label}”" if term.kind == "text" else term.label
    weight = abs(term.weight)
    return f"{weight:g}× {name}" if weight != 1 else name


def title(query: SearchQuery) -> str:
    """The header's line: "Photos like trip_00.jpg and “sunset”, not “people”"."""
    positive = [term_words(t) for t in query.positive]
    negative = [term_words(t) for t in query.negative]
    only_words = all(t.kind == "text" for t in query.positive)
    text = ("Photos matching " if only_words else "Photos that look like ") + _join(positive)
    if negative:
        text += ", not " + _join(negative)
    return text


def _join(parts: list[str]) -> str:
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
