"""Every file that could not be indexed, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from ..engine.records import SkippedFile


class SkippedDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("skippedDialog")
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        self.summary = QLabel("Loading…", self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 2, self)
        self.table.setObjectName("skippedTable")
        self.table.setHorizontalHeaderLabels(["File", "Why it was skipped"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)  # long reasons wrap instead of being cut off
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton("Copy list", self)
        self.copy_button.clicked.connect(self._copy)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self._files: list[SkippedFile] = []

    def set_files(self, files: list[SkippedFile]) -> None:
        self._files = files
        self.table.setRowCount(len(files))
        for row, f in enumerate(files):
            for col, text in enumerate((f.rel_path, f.reason)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, max(200, min(self.table.columnWidth(0) + 16, 380)))
        self.table.resizeRowsToContents()
        self.copy_button.setEnabled(bool(files))
        if files:
            self.summary.setText(
                f"{len(files)} file{'s' if len(files) != 1 else ''} could not be indexed and will not appear "
                "in results. Fix or replace a file, then choose Update index to try it again."
            )
        else:
            self.summary.setText("Every file in the library was indexed. Nothing was skipped.")

    def set_error(self, text: str) -> None:
        self.summary.setText(text)

    def rows(self) -> list[tuple[str, str]]:
        return [(f.rel_path, f.reason) for f in self._files]

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(f"{p}\t{r}" for p, r in self.rows()))
