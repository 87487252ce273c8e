"""The search results as a Qt list model (one row per photo, best match first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt, QUrl

from .thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from ..engine.records import SearchResult

Index = QModelIndex | QPersistentModelIndex

RESULT_ROLE = Qt.ItemDataRole.UserRole + 1
SCORE_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_FAILED_ROLE = Qt.ItemDataRole.UserRole + 3


class ResultModel(QAbstractListModel):
    """Holds every result of the current query and shows those at or above ``min_score``.

    The engine applies a minimum score after picking the top k, so hiding weak matches here
    gives the same list without running the query again.
    """

    def __init__(self, thumbnails: ThumbnailCache, thumb_size: int, pixel_ratio: float = 1.0) -> None:
        super().__init__()
        self._thumbnails = thumbnails
        self._thumb_size = thumb_size
        self._pixel_ratio = pixel_ratio  # thumbnails are made in device pixels: sharp on HiDPI
        self._all: list[SearchResult] = []
        self._rows: list[SearchResult] = []
        self._row_of: dict[str, int] = {}
        self._min_score: float | None = None
        thumbnails.ready.connect(self._on_thumbnail)

    # -- updates ---------------------------------------------------------------------------

    def set_results(self, results: list[SearchResult]) -> None:
        self._thumbnails.cancel_pending()
        self._all = list(results)
        self._refilter()

    def set_min_score(self, value: float | None) -> None:
        """Hide results scoring below ``value``; None shows all (scores can be negative)."""
        if value != self._min_score:
            self._min_score = value
            self._refilter()

    def set_thumb_size(self, side: int) -> None:
        self._thumb_size = side
        self._thumbnails.cancel_pending()
        self.layoutChanged.emit()

    @property
    def thumb_size(self) -> int:
        return self._thumb_size

    @property
    def _thumb_pixels(self) -> int:
        return round(self._thumb_size * self._pixel_ratio)

    @property
    def total(self) -> int:
        """Results of the query before the minimum score hides some."""
        return len(self._all)

    def result(self, row: int) -> SearchResult | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def _refilter(self) -> None:
        self.beginResetModel()
        floor = self._min_score
        self._rows = self._all if floor is None else [r for r in self._all if r.score >= floor]
        self._row_of = {r.abs_path: i for i, r in enumerate(self._rows)}
        self.endResetModel()

    def _on_thumbnail(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole, THUMB_FAILED_ROLE])

    # -- QAbstractListModel ------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return r.photo.rel_path.rsplit("/", 1)[-1]
        if role == Qt.ItemDataRole.DecorationRole:
            # Asks for the thumbnail if it is not ready: only rows being painted get here.
            return self._thumbnails.pixmap(r.abs_path, self._thumb_pixels)
        if role == THUMB_FAILED_ROLE:
            return self._thumbnails.failed(r.abs_path, self._thumb_pixels)
        if role == SCORE_ROLE:
            return r.score
        if role == RESULT_ROLE:
            return r
        if role == Qt.ItemDataRole.ToolTipRole:
            folded = (f"\n+{len(r.folded)} folded under it: copies of this picture (and similar shots, "
                      "when those fold too)") if r.folded else ""
            return f"{r.photo.rel_path}\nScore {r.score:.3f}{folded}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{r.photo.rel_path}, score {r.score:.2f}"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    # -- dragging photos out to other apps ---------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        mime = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        urls = [QUrl.fromLocalFile(self._rows[row].abs_path) for row in rows if row < len(self._rows)]
        mime.setUrls(urls)
        mime.setText("\n".join(u.toLocalFile() for u in urls))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction
