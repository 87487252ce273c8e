"""The virtualised thumbnail grid (QListView in icon mode) with its empty-state hint."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QWidget

from .result_delegate import PADDING, ResultDelegate
from .result_model import ResultModel

DEFAULT_HINT = (
    "Drop a photo anywhere on this window to find photos that look like it.\n"
    "Or open one (Ctrl+O), paste one (Ctrl+V), or describe it in words."
)


# Read at import, not in the first paint: PySide builds a Python enum class on its first use
# (~9 ms), and the grid's first paint comes while the model loads in a worker thread.
_HINT_ALIGNMENT = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
_HINT_ROLE = QPalette.ColorRole.PlaceholderText


class ResultGrid(QListView):
    activated_result = Signal(QModelIndex)  # double-click or Enter: open the photo

    def __init__(self, model: ResultModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultGrid")
        self.setModel(model)
        self.delegate = ResultDelegate(model.thumb_size, self)
        self.setItemDelegate(self.delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)  # the delegate's size hint is asked once, not per row
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)  # drops go to the window
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setMouseTracking(True)  # hover highlight
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.doubleClicked.connect(self.activated_result)
        self._hint = DEFAULT_HINT

    def set_thumb_size(self, side: int) -> None:
        self.delegate.thumb_size = side
        model = self.model()
        assert isinstance(model, ResultModel)
        model.set_thumb_size(side)
        self._update_grid_size()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_grid_size()

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

    def set_hint(self, text: str) -> None:
        """What the empty grid says (how to search, or why nothing was found)."""
        self._hint = text
        self.viewport().update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activated_result.emit(self.currentIndex())
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
