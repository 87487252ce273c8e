"""The virtualised thumbnail grid (QListView in icon mode) with its empty-state hint."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QWidget

from .photo_delegate import PADDING, PhotoDelegate
from .photo_model import PhotoModel

DEFAULT_HINT = (
    "Drop a photo anywhere on this window to find photos that look like it.\n"
    "Or open one (Ctrl+O), paste one (Ctrl+V), or describe it in words."
)


# Read at import, not in the first paint: PySide builds a Python enum class on its first use
# (~9 ms), and the grid's first paint comes while the model loads in a worker thread.
_HINT_ALIGNMENT = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
_HINT_ROLE = QPalette.ColorRole.PlaceholderText


class PhotoGrid(QListView):
    activated_item = Signal(QModelIndex)  # double-click or Enter: open the photo

    def __init__(self, model: PhotoModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultGrid")
        self.setModel(model)
        self.delegate = PhotoDelegate(model.thumb_size, self)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)  # the delegate's size hint is asked once, not per row
        # Laying out 100,000 cells at once blocked the window for ~0.8 s: in batches, the first
        # screen shows at once and the rest follows between events.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)  # drops go to the window
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setMouseTracking(True)  # hover highlight
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.doubleClicked.connect(self.activated_item)
        self._hint = DEFAULT_HINT
        self._pending_scroll: int | None = None  # see scroll_to
        self.verticalScrollBar().valueChanged.connect(lambda _: self._visible_rows_changed())
        self.verticalScrollBar().rangeChanged.connect(lambda *_: self._apply_pending_scroll())
        model.modelReset.connect(lambda: QTimer.singleShot(0, self._visible_rows_changed))

    def set_thumb_size(self, side: int) -> None:
        self.delegate.thumb_size = side
        model = self.model()
        assert isinstance(model, PhotoModel)
        model.set_thumb_size(side)
        self._update_grid_size()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_grid_size()
        self._visible_rows_changed()

    def _update_grid_size(self) -> None:
        """Spread the columns over the whole width instead of leaving a gap on the right."""
        cell_w = self.delegate.thumb_size + 2 * PADDING + 8
        cell_h = self.delegate.thumb_size + 2 * PADDING + QFontMetrics(self.font()).height() + 12
        # The scroll bar's width is always set aside, so showing it never re-flows the grid.
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        width = max(cell_w, self.width() - 2 * self.frameWidth() - scrollbar - 2)
        columns = max(1, width // cell_w)
        size = QSize(width // columns, cell_h)
        if size != self.gridSize():
            self.setGridSize(size)

    def scroll_to(self, value: int) -> None:
        """Scroll to ``value`` as soon as the layout (made in batches) reaches that far."""
        self._pending_scroll = value
        self._apply_pending_scroll()

    def _apply_pending_scroll(self) -> None:
        bar = self.verticalScrollBar()
        if self._pending_scroll is not None and bar.maximum() >= self._pending_scroll:
            bar.setValue(self._pending_scroll)
            self._pending_scroll = None

    def visible_rows(self) -> range:
        """The rows on screen: found at the first and last lines of cells the viewport shows
        (cells are laid out line after line; a line's length is read off the layout)."""
        model, grid = self.model(), self.gridSize()
        if model is None or model.rowCount() == 0 or grid.height() <= 0:
            return range(0)
        x, height, step = grid.width() // 2, self.viewport().height(), max(1, grid.height() // 4)
        tops = (self.indexAt(QPoint(x, y)) for y in range(0, height, step))
        bottoms = (self.indexAt(QPoint(x, y)) for y in range(height - 1, -1, -step))
        first = next((i.row() for i in tops if i.isValid()), -1)
        last = next((i.row() for i in bottoms if i.isValid()), -1)
        if first < 0 or last < 0:
            return range(0)
        first_top = self.visualRect(model.index(0, 0)).top()
        columns = 1
        while columns < model.rowCount() and self.visualRect(model.index(columns, 0)).top() == first_top:
            columns += 1
        return range(first, min(model.rowCount(), last + columns))

    def _visible_rows_changed(self) -> None:
        """Tell the model which rows are on screen: it reads their pages and thumbnails, and
        those of a screen above and below, and drops requests for rows scrolled far away."""
        model, rows = self.model(), self.visible_rows()
        if isinstance(model, PhotoModel) and rows:
            model.show_window(rows.start, rows.stop - 1)

    def set_hint(self, text: str) -> None:
        """What the empty grid says (how to search, or why nothing was found)."""
        self._hint = text
        self.viewport().update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activated_item.emit(self.currentIndex())
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0 and self._hint:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(_HINT_ROLE))
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.15)
            painter.setFont(font)
            rect = self.viewport().rect().adjusted(40, 40, -40, -40)
            painter.drawText(rect, _HINT_ALIGNMENT, self._hint)

    def sizeHint(self) -> QSize:
        return QSize(720, 520)
