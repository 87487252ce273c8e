"""Paints one grid cell: the thumbnail (or a placeholder), its score (results only) and its
file name.

Painting only reads what the model already holds; it never touches the disk.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from .photo_model import ITEM_ROLE, SCORE_ROLE, THUMB_FAILED_ROLE

PADDING = 8
RADIUS = 6.0


class PhotoDelegate(QStyledItemDelegate):
    def __init__(self, thumb_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size
        self._placeholders: dict[tuple[int, float, int, bool], QPixmap] = {}

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        line = QFontMetrics(option.font).height()
        return QSize(self.thumb_size + 2 * PADDING, self.thumb_size + 2 * PADDING + line + 4)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = QRectF(option.rect).adjusted(2, 2, -2, -2)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            colour = QColor(palette.color(QPalette.ColorRole.Highlight))
            colour.setAlpha(255 if selected else 40)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(cell, RADIUS, RADIUS)

        side = self.thumb_size
        box = QRect(option.rect.x() + PADDING, option.rect.y() + PADDING, side, side)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            picture = self._draw_pixmap(painter, box, pixmap)
        else:
            picture = box
            failed = bool(index.data(THUMB_FAILED_ROLE))
            painter.drawPixmap(box, self._placeholder(side, painter.device().devicePixelRatioF(), palette, failed))

        score = index.data(SCORE_ROLE)
        if score is not None:
            self._draw_badge(painter, picture, f"{float(score):.2f}", QColor(0, 0, 0, 150), right=False)
        item = index.data(ITEM_ROLE)
        if item is not None and item.folded:
            self._draw_badge(painter, picture, f"+{len(item.folded)}", QColor(20, 90, 200, 210), right=True)

        text_rect = QRect(box.left(), box.bottom() + 4, side, option.rect.bottom() - box.bottom() - 4)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = QFontMetrics(option.font).elidedText(str(index.data() or ""), Qt.TextElideMode.ElideMiddle, side)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)

        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight).darker(130), 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(cell.adjusted(0.75, 0.75, -0.75, -0.75), RADIUS, RADIUS)
        painter.restore()

    @staticmethod
    def _draw_pixmap(painter: QPainter, box: QRect, pixmap: QPixmap) -> QRect:
        """Draw the thumbnail centred in ``box``; returns where it went."""
        size = pixmap.size() / pixmap.devicePixelRatio()
        scaled = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, scaled.width(), scaled.height())
        target.moveCenter(box.center())
        painter.drawPixmap(target, pixmap)  # corners rounded when it was made (thumbnails.rounded)
        return target

    def _placeholder(self, side: int, ratio: float, palette: QPalette, failed: bool) -> QPixmap:
        """The cell of a photo whose thumbnail is not there (yet), drawn once per look: a fast
        scroll paints little else (a new screen every step), and drawing its rounded box and
        text each time cost most of a step's painting (scripts/bench_gui.py --browse)."""
        key = (side, ratio, palette.cacheKey(), failed)
        pixmap = self._placeholders.get(key)
        if pixmap is None:
            pixmap = QPixmap(round(side * ratio), round(side * ratio))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._draw_placeholder(painter, QRect(0, 0, side, side), palette, failed)
            painter.end()
            if len(self._placeholders) >= 8:  # sizes, screens and palettes left behind
                self._placeholders.clear()
            self._placeholders[key] = pixmap
        return pixmap

    @staticmethod
    def _draw_placeholder(painter: QPainter, box: QRect, palette: QPalette, failed: bool) -> None:
        base = QColor(palette.color(QPalette.ColorRole.Mid))
        base.setAlpha(60)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(base)
        painter.drawRoundedRect(QRectF(box), 4, 4)
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        text = "No preview" if failed else "Loading…"
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _draw_badge(painter: QPainter, box: QRect, text: str, fill: QColor, right: bool) -> None:
        """A white-on-colour pill in the picture's top-left (score) or top-right ("+n" folded
        near-duplicates) corner."""
        metrics = painter.fontMetrics()
        badge = QRectF(0, 0, metrics.horizontalAdvance(text) + 10, metrics.height() + 2)
        if right:
            badge.moveTopRight(QRectF(box).topRight() + QRectF(-4, 4, 0, 0).topLeft())
        else:
            badge.moveTopLeft(QRectF(box).topLeft() + QRectF(4, 4, 0, 0).topLeft())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
