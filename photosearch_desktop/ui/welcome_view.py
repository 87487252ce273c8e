"""The first screen: choose (or drop) the photo folder to search."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .app_icon import app_icon

COLUMN_WIDTH = 520


class WelcomeView(QWidget):
    choose_folder = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomeView")
        column = QWidget(self)
        column.setFixedWidth(COLUMN_WIDTH)  # wrapped text gets the whole column, not a sliver

        logo = QLabel(column)
        logo.setPixmap(app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        title = self._label(column, "Welcome to PhotoSearch", scale=2.0, bold=True)
        intro = self._label(
            column,
            "Find photos in your own library by what they look like. "
            "Everything stays on this computer: nothing is uploaded.",
            scale=1.1,
        )
        self.button = QPushButton("Choose your photo folder…", column)
        self.button.setObjectName("chooseFolderButton")
        self.button.setDefault(True)
        self.button.setMinimumSize(280, 44)
        self.button.clicked.connect(self.choose_folder)
        hint = self._label(column, "or drop a folder onto this window", dim=True)
        note = self._label(
            column,
            "PhotoSearch indexes the folder in the background, and you can search while it works. "
            "Its index and thumbnails are kept in its own data folder, never among your photos.",
            dim=True,
        )

        layout = QVBoxLayout(column)
        layout.setSpacing(10)
        layout.addWidget(logo)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(18)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(hint)
        layout.addSpacing(24)
        layout.addWidget(note)

        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        outer.addLayout(row)
        outer.addStretch(3)

    @staticmethod
    def _label(parent: QWidget, text: str, scale: float = 1.0, bold: bool = False, dim: bool = False) -> QLabel:
        label = QLabel(text, parent)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * scale)
        font.setBold(bold)
        label.setFont(font)
        label.setEnabled(not dim)  # the palette's disabled text colour reads as secondary
        return label
