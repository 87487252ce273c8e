"""The app's icon, drawn in code so it ships with the package and is sharp at every size."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QLinearGradient, QPainter, QPainterPath, QPen, QPixmap


def _draw(side: int) -> QPixmap:
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = side / 64.0  # drawn on a 64-unit grid
    # A photo: sky, sun and two hills on a rounded card.
    card = QRectF(4 * s, 8 * s, 46 * s, 38 * s)
    sky = QLinearGradient(card.topLeft(), card.bottomLeft())
    sky.setColorAt(0, QColor("#4f8fe6"))
    sky.setColorAt(1, QColor("#a9d4ff"))
    p.setPen(QPen(QColor("white"), 2.5 * s))
    p.setBrush(QBrush(sky))
    p.drawRoundedRect(card, 5 * s, 5 * s)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#ffd34d"))
    p.drawEllipse(QPointF(16 * s, 19 * s), 5 * s, 5 * s)
    hills = QPainterPath(QPointF(6 * s, 44 * s))
    hills.lineTo(20 * s, 28 * s)
    hills.lineTo(29 * s, 37 * s)
    hills.lineTo(37 * s, 27 * s)
    hills.lineTo(48 * s, 44 * s)
    hills.closeSubpath()
    p.setBrush(QColor("#2f9e5b"))
    p.drawPath(hills)
    # A magnifying glass over its corner.
    p.setPen(QPen(QColor("#263238"), 6 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(51 * s, 51 * s), QPointF(60 * s, 60 * s))
    p.setPen(QPen(QColor("#263238"), 4 * s))
    p.setBrush(QColor(255, 255, 255, 170))
    p.drawEllipse(QPointF(43 * s, 43 * s), 11 * s, 11 * s)
    p.end()
    return pixmap


def app_icon() -> QIcon:
    icon = QIcon()
    for side in (16, 24, 32, 48, 64, 128, 256):
        icon.addPixmap(_draw(side))
    return icon
