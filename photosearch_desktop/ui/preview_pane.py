"""The selected photo, large, with its facts and what can be done with it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QImage, QPainter, QPaintEvent, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .errors import describe_error
from .imaging import load_for_display, pil_to_qimage
from .tasks import BackgroundCalls

if TYPE_CHECKING:
    from ..engine.records import PhotoRecord
    from .photo_model import GridItem

log = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = 1600  # plenty for a side pane, even on a high-DPI screen


class PhotoView(QWidget):
    """Draws a pixmap scaled to fit, keeping its aspect ratio; the scaled copy is cached
    per widget size so repaints are cheap. Its height follows the photo's shape, so the
    facts below sit right under the picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(200, 120)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._pixmap: QPixmap | None = None
        self._scaled: QPixmap | None = None
        self._text = "Select a photo to see it here."

    def set_pixmap(self, pixmap: QPixmap | None, text: str = "") -> None:
        self._pixmap, self._scaled, self._text = pixmap, None, text
        self.updateGeometry()
        self.update()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if self._pixmap is None or self._pixmap.isNull() or self._pixmap.width() == 0:
            return width * 3 // 4
        shape = self._pixmap.height() / self._pixmap.width()
        return int(width * min(shape, 1.5))  # very tall photos are letterboxed instead

    def sizeHint(self) -> QSize:
        return QSize(340, self.heightForWidth(340))

    def has_image(self) -> bool:
        return self._pixmap is not None

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._pixmap is None:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._text)
            return
        ratio = self.devicePixelRatioF()
        target = self.size() * ratio
        if self._scaled is None or self._scaled.size() != self._pixmap.size().scaled(
                target, Qt.AspectRatioMode.KeepAspectRatio):
            self._scaled = self._pixmap.scaled(
                target, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            self._scaled.setDevicePixelRatio(ratio)
        size = self._scaled.size() / ratio
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        painter.drawPixmap(x, y, self._scaled)


class PreviewPane(QWidget):
    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPane")
        self._calls: BackgroundCalls | None = None  # the open library's, see attach()
        self._shown_path: str | None = None

        self.photo = PhotoView(self)
        self.photo.setAccessibleName("Selected photo")
        self.title = QLabel(self)
        self.title.setObjectName("previewTitle")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.title.setFont(font)

        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        for name in ("Path", "Taken", "Size", "Camera", "Score"):
            value = QLabel("—", self)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.fields[name] = value
            form.addRow(f"{name}:", value)

        buttons = QGridLayout()  # two by two: the pane stays narrow
        buttons.setSpacing(4)
        for i, action in enumerate(actions):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button, i // 2, i % 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.photo)
        layout.addSpacing(6)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addSpacing(6)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.clear()

    def sizeHint(self) -> QSize:
        return QSize(360, 520)

    def attach(self, calls: BackgroundCalls | None) -> None:
        """Load previews with the open library's session (None: no library open)."""
        self.clear()
        self._calls = calls

    def clear(self) -> None:
        if self._calls is not None:
            self._calls.cancel_all()
        self._shown_path = None
        self.photo.set_pixmap(None, "Select a photo to see it here.")
        self.title.setText("No photo selected")
        for label in self.fields.values():
            label.setText("—")

    @property
    def shown_path(self) -> str | None:
        """Absolute path of the photo on display (None when nothing is)."""
        return self._shown_path

    def show_item(self, item: GridItem | None) -> None:
        if item is None:
            self.clear()
            return
        if item.abs_path == self._shown_path:
            self.fields["Score"].setText(_score(item.score))
            return
        self._shown_path = item.abs_path
        self._fill_facts(item.photo, item.score)
        if self._calls is None:
            return
        self.photo.set_pixmap(None, "Loading…")
        self._calls.cancel_all()  # only the newest selection matters
        path = Path(item.abs_path)
        self._calls.submit(lambda: pil_to_qimage(load_for_display(path, PREVIEW_MAX_SIDE)[0]),
                           lambda image: self._show_image(item.abs_path, image),
                           lambda exc: self._show_failure(item.abs_path, exc))

    def _fill_facts(self, photo: PhotoRecord, score: float | None) -> None:
        self.title.setText(photo.rel_path.rsplit("/", 1)[-1])
        self.fields["Path"].setText(photo.rel_path)
        self.fields["Taken"].setText(_taken(photo))
        pixels = f"{photo.width} × {photo.height} px · " if photo.width and photo.height else ""
        self.fields["Size"].setText(pixels + human_bytes(photo.size))
        self.fields["Camera"].setText(photo.camera or "—")
        self.fields["Score"].setText(_score(score))

    def _show_image(self, path: str, image: QImage) -> None:
        if path == self._shown_path:
            self.photo.set_pixmap(QPixmap.fromImage(image))

    def _show_failure(self, path: str, exc: BaseException) -> None:
        if path == self._shown_path:
            self.photo.set_pixmap(None, f"Cannot show this photo.\n{describe_error(exc).text}")

def _score(score: float | None) -> str:
    return "—" if score is None else f"{score:.3f}"


def _taken(photo: PhotoRecord) -> str:
    if photo.taken_at is None:
        return "Unknown (no date in the file)"
    when = photo.taken_at.strftime("%Y-%m-%d %H:%M")
    if photo.taken_source == "file-mtime":
        return f"{when} (file date; no camera date)"
    return when


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
