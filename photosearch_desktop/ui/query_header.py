"""Above the grid: what is being searched for (with its thumbnail), how many results, and the
active filters."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from .filter_chips import FilterChips

THUMB_SIDE = 64


class QueryHeader(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queryHeader")
        self.thumb = QLabel(self)
        self.thumb.setObjectName("queryThumb")
        self.thumb.setFixedSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(self)
        self.title.setObjectName("queryTitle")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.detail = QLabel(self)
        self.detail.setObjectName("queryDetail")
        self.detail.setWordWrap(True)  # never forces the window wider
        self.chips = FilterChips(self)

        layout = QGridLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setHorizontalSpacing(12)
        layout.setVerticalSpacing(2)
        layout.addWidget(self.thumb, 0, 0, 3, 1)
        layout.addWidget(self.title, 0, 1)
        layout.addWidget(self.detail, 1, 1)
        layout.addWidget(self.chips, 2, 1)
        layout.setColumnStretch(1, 1)
        self.show_idle()

    def show_idle(self) -> None:
        self._set_thumb_text("?")
        self.title.setText("Search your photos")
        self.detail.setText("Drop, open or paste a photo — or type words, if the model understands them.")

    def show_query(self, label: str, is_text: bool) -> None:
        self._set_thumb_text("Aa" if is_text else "…")
        self.title.setText(f"Photos matching {label}" if is_text else f"Photos that look like {label}")
        self.title.setToolTip(label)
        self.detail.setText("Searching…")

    def set_query_image(self, image: QImage) -> None:
        pixmap = QPixmap.fromImage(image).scaled(
            self.thumb.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.thumb.setStyleSheet("")
        self.thumb.setPixmap(pixmap)

    def set_detail(self, text: str) -> None:
        self.detail.setText(text)

    def _set_thumb_text(self, text: str) -> None:
        self.thumb.setPixmap(QPixmap())
        self.thumb.setText(text)
        self.thumb.setStyleSheet("QLabel#queryThumb { border: 1px dashed palette(mid); border-radius: 6px;"
                                 " color: palette(mid); font-size: 20px; }")
