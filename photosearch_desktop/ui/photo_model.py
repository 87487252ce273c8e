"""The grid's photos as a Qt list model: a query's results, or the library itself (browsing).

Results are few (a query's k) and held whole. Browsing may show a hundred thousand photos, so
the model holds only their ids (one NumPy array, in order) and reads the records a page at a
time, when a page is first painted (through ``load_page``, on the library's session); pages
read long ago are forgotten. Thumbnails are asked for only by rows being painted.

A page keeps each photo as one tuple of plain values (its path and its record's fields), and a
cell's item is made from it when asked for: the garbage collector stops tracking tuples of
plain values, where it walked every record and item object of the 48 pages kept (24,000) at
each full collection, 27-50 ms on the GUI thread in the middle of a scroll (the worst stall of
``scripts/bench_gui.py --browse 100000``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt, QUrl

from ..engine.records import PhotoRecord
from .thumbnails import ThumbnailCache

if TYPE_CHECKING:
    import numpy as np

    from ..engine.records import SearchResult

Index = QModelIndex | QPersistentModelIndex
LoadPage = Callable[[list[int], Callable[[dict[int, PhotoRecord]], None]], None]
Row = tuple[Any, ...]  # a browsed photo: (its absolute path, *its record's fields)
_record_fields = attrgetter(*(f.name for f in fields(PhotoRecord)))

ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
SCORE_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_FAILED_ROLE = Qt.ItemDataRole.UserRole + 3
PAGE_ROWS = 256  # records read per page while browsing
PAGES_KEPT = 48  # ~12,000 records (a few MB); the rest are read again when scrolled back to


class GridItem(Protocol):
    """What a grid cell shows: a search result, or a photo being browsed (no score)."""

    @property
    def photo(self) -> PhotoRecord: ...
    @property
    def abs_path(self) -> str: ...
    @property
    def score(self) -> float | None: ...
    @property
    def folded(self) -> tuple[SearchResult, ...]: ...


@dataclass(frozen=True)
class BrowseItem:
    photo: PhotoRecord
    abs_path: str
    score: None = None
    folded: tuple[SearchResult, ...] = ()


class PhotoModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailCache, thumb_size: int, pixel_ratio: float = 1.0) -> None:
        super().__init__()
        self._thumbnails = thumbnails
        self._thumb_size = thumb_size
        self._pixel_ratio = pixel_ratio  # thumbnails are made in device pixels: sharp on HiDPI
        self._results: list[SearchResult] = []  # the query's, before the minimum score
        self._rows: list[SearchResult] = []
        self._min_score: float | None = None
        self._ids: np.ndarray | None = None  # browsing: every photo's id, in order
        self._root = Path()
        self._load_page: LoadPage | None = None
        # A page's rows in order, None for a photo whose record is gone; the page None: being read.
        self._pages: OrderedDict[int, list[Row | None] | None] = OrderedDict()
        self._generation = 0  # a page read for an earlier list is dropped
        self._row_of: dict[str, int] = {}
        self._window = (0, -1)  # rows on (or near) the screen, see show_window
        self._visible = (0, -1)  # rows on the screen
        thumbnails.ready.connect(self._on_thumbnail)

    # -- what is shown ----------------------------------------------------------------------

    @property
    def browsing(self) -> bool:
        return self._ids is not None

    def set_results(self, results: Sequence[SearchResult]) -> None:
        self.beginResetModel()
        self._thumbnails.cancel_pending()
        self._ids, self._pages = None, OrderedDict()
        self._results = list(results)
        self._filter_results()
        self.endResetModel()

    def set_browse(self, root: Path, ids: np.ndarray, load_page: LoadPage) -> None:
        """Browse the photos ``ids`` (in order) of the library at ``root``."""
        self.beginResetModel()
        self._thumbnails.cancel_pending()
        self._generation += 1
        self._root, self._ids, self._load_page = root, ids, load_page
        self._pages, self._results, self._rows, self._row_of = OrderedDict(), [], [], {}
        self._window = self._visible = (0, -1)
        self.endResetModel()

    def set_min_score(self, value: float | None) -> None:
        """Hide results scoring below ``value``; None shows all (scores can be negative). The
        engine applies a minimum score after picking the top k, so this gives the same list
        without running the query again."""
        if value != self._min_score:
            self._min_score = value
            if not self.browsing:
                self.beginResetModel()
                self._filter_results()
                self.endResetModel()

    def set_thumb_size(self, side: int) -> None:
        self._thumb_size = side
        self._thumbnails.cancel_pending()
        self.layoutChanged.emit()

    @property
    def thumb_size(self) -> int:
        return self._thumb_size

    @property
    def total(self) -> int:
        """Photos of the list before the minimum score hides some."""
        return len(self._ids) if self._ids is not None else len(self._results)

    def item(self, row: int) -> GridItem | None:
        """The photo at ``row``; None while its page is being read (asked for now)."""
        if self._ids is None:
            return self._rows[row] if 0 <= row < len(self._rows) else None
        found = self._browsed(row)
        return None if found is None else BrowseItem(PhotoRecord(*found[1:]), found[0])

    def _browsed(self, row: int) -> Row | None:
        """The browsed photo at ``row`` as its page keeps it; None while the page is read."""
        assert self._ids is not None
        if not 0 <= row < len(self._ids):
            return None
        page = self._page(row // PAGE_ROWS)
        return page[row % PAGE_ROWS] if page is not None and row % PAGE_ROWS < len(page) else None

    def _path(self, row: int) -> str | None:
        if self._ids is None:
            return self._rows[row].abs_path if 0 <= row < len(self._rows) else None
        found = self._browsed(row)
        return None if found is None else found[0]

    def photo_ids(self, rows: Sequence[int]) -> list[int]:
        """The photos at ``rows``, whether or not their records have been read yet."""
        if self._ids is not None:
            return [int(self._ids[r]) for r in rows if 0 <= r < len(self._ids)]
        return [self._rows[r].photo.id for r in rows if 0 <= r < len(self._rows)]

    def rows_of(self, photo_ids: Sequence[int]) -> list[int]:
        """Where those photos are now (those shown)."""
        if self._ids is not None:
            import numpy as np

            return np.flatnonzero(np.isin(self._ids, np.asarray(photo_ids, dtype=np.int64))).tolist()
        wanted = set(photo_ids)
        return [r for r, item in enumerate(self._rows) if item.photo.id in wanted]

    def items(self, rows: Sequence[int]) -> list[GridItem]:
        return [item for item in (self.item(r) for r in rows) if item is not None]

    def show_window(self, first: int, last: int) -> None:
        """Rows ``first``..``last`` are on screen: read their pages and thumbnails, and a screen
        more on each side (so scrolling finds them ready); thumbnails asked for earlier for rows
        now far away are not made."""
        margin = last - first + 1
        self._visible = (first, last)
        self._window = (max(0, first - margin), last + margin)
        self._refresh_window()

    def _refresh_window(self) -> None:
        (first, last), (low, high) = self._visible, self._window
        high = min(high, self.rowCount() - 1)
        # The screen's rows first, top left first; then the margin, nearest rows first (below
        # before above: scrolling goes down more often).
        margin = [r for d in range(1, max(first - low, high - last) + 1) for r in (last + d, first - d) if low <= r <= high]
        on_screen = [p for p in map(self._path, range(first, min(last, high) + 1)) if p]  # reads missing pages
        around = [p for p in map(self._path, margin) if p]
        self._thumbnails.focus({*on_screen, *around})
        self._thumbnails.request(on_screen + around, self._thumb_pixels, urgent=len(on_screen))

    def _filter_results(self) -> None:
        floor = self._min_score
        self._rows = self._results if floor is None else [r for r in self._results if r.score >= floor]
        self._row_of = {r.abs_path: i for i, r in enumerate(self._rows)}

    # -- browsing pages ---------------------------------------------------------------------

    def _page(self, number: int) -> list[Row | None] | None:
        if number in self._pages:
            self._pages.move_to_end(number)
            return self._pages[number]
        assert self._ids is not None and self._load_page is not None
        self._pages[number] = None
        generation = self._generation
        ids = self._ids[number * PAGE_ROWS : (number + 1) * PAGE_ROWS].tolist()
        self._load_page(ids, lambda records: self._page_read(generation, number, ids, records))
        while len(self._pages) > PAGES_KEPT:
            _, forgotten = self._pages.popitem(last=False)
            for row in forgotten or ():
                if row is not None:
                    self._row_of.pop(row[0], None)
        return None

    def _page_read(self, generation: int, number: int, ids: list[int], records: dict[int, PhotoRecord]) -> None:
        if generation != self._generation or number not in self._pages:
            return  # another list is shown now, or the page was forgotten meanwhile
        # A photo deleted meanwhile keeps its row, empty, until the list is read again: the
        # rows after it keep their photos (a row's photo id and what it shows must agree).
        # The path as str(root / rel) gives it, without a Path per photo (a third of the page's time).
        prefix, slash = os.path.join(str(self._root), ""), os.sep != "/"
        page = [None if r is None else (prefix + (r.rel_path.replace("/", os.sep) if slash else r.rel_path),
                                        *_record_fields(r))
                for r in (records.get(i) for i in ids)]
        self._pages[number] = page
        first = number * PAGE_ROWS
        for offset, row in enumerate(page):
            if row is not None:
                self._row_of[row[0]] = first + offset
        self.dataChanged.emit(self.index(first), self.index(first + len(ids) - 1))
        if first <= self._window[1] and first + len(ids) > self._window[0]:
            self._refresh_window()  # the screen's thumbnails can be asked for now

    def _on_thumbnail(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole, THUMB_FAILED_ROLE])

    @property
    def _thumb_pixels(self) -> int:
        return round(self._thumb_size * self._pixel_ratio)

    # -- QAbstractListModel -----------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        if parent.isValid():
            return 0
        return len(self._ids) if self._ids is not None else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, THUMB_FAILED_ROLE):
            path = self._path(index.row())  # what painting asks for most: no item made
            if path is None:
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                return os.path.basename(path)
            if role == Qt.ItemDataRole.DecorationRole:
                # Asks for the thumbnail if it is not ready: only rows being painted get here.
                return self._thumbnails.pixmap(path, self._thumb_pixels)
            return self._thumbnails.failed(path, self._thumb_pixels)
        item = self.item(index.row())
        if item is None:
            return None
        if role == SCORE_ROLE:
            return item.score
        if role == ITEM_ROLE:
            return item
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(item)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            score = f", score {item.score:.2f}" if item.score is not None else ""
            return f"{item.photo.rel_path}{score}"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    # -- dragging photos out to other apps --------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        mime = QMimeData()
        items = self.items(sorted({i.row() for i in indexes if i.isValid()}))
        urls = [QUrl.fromLocalFile(item.abs_path) for item in items]
        mime.setUrls(urls)
        mime.setText("\n".join(u.toLocalFile() for u in urls))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


def _tooltip(item: GridItem) -> str:
    lines = [item.photo.rel_path]
    if item.photo.taken_at is not None:
        lines.append(item.photo.taken_at.strftime("%Y-%m-%d %H:%M"))
    if item.score is not None:
        lines.append(f"Score {item.score:.3f}")
    if item.folded:
        n = len(item.folded)
        lines.append(f"+{n} folded under it: copies of this picture (and similar shots, when those fold too)")
    return "\n".join(lines)
