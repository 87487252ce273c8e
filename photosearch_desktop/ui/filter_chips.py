"""The always-visible summary of active filters, each with a × to clear it."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget


class FilterChips(QWidget):
    clear_folder = Signal()
    clear_dates = Signal()
    clear_min_score = Signal()
    clear_all = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterChips")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._layout.addStretch(1)
        self._chips: list[QWidget] = []
        self.update_chips("", None, None, False, 0.0)

    def texts(self) -> list[str]:
        """The chips as shown (for tests and accessibility)."""
        return [c.text() for c in self._chips if isinstance(c, (QLabel, QToolButton))]

    def update_chips(self, folder: str, start: date | None, end: date | None, undated: bool, min_score: float) -> None:
        for chip in self._chips:
            self._layout.removeWidget(chip)
            chip.deleteLater()
        self._chips = []
        if folder:
            self._add_chip(f"Folder: {folder}", self.clear_folder)
        if start or end:
            span = f"{start.isoformat() if start else '…'} – {end.isoformat() if end else '…'}"
            self._add_chip(span + (" (+ undated)" if undated else ""), self.clear_dates)
        if min_score > 0:
            self._add_chip(f"Score ≥ {min_score:.2f}", self.clear_min_score)
        if len(self._chips) > 1:
            self._add_button("Clear all", self.clear_all)
        if not self._chips:
            label = QLabel("All photos · no filters", self)
            label.setObjectName("noFilters")
            label.setEnabled(False)
            self._add(label)

    def _add_chip(self, text: str, clear: SignalInstance) -> None:
        chip = QToolButton(self)
        chip.setObjectName("filterChip")
        chip.setText(f"{text}  ×")
        chip.setToolTip("Click to remove this filter")
        chip.setAutoRaise(False)
        chip.setCursor(Qt.CursorShape.PointingHandCursor)
        chip.clicked.connect(clear.emit)
        self._add(chip)

    def _add_button(self, text: str, signal: SignalInstance) -> None:
        button = QToolButton(self)
        button.setText(text)
        button.setAutoRaise(True)
        button.clicked.connect(signal.emit)
        self._add(button)

    def _add(self, widget: QWidget) -> None:
        self._layout.insertWidget(len(self._chips), widget)  # before the trailing stretch
        self._chips.append(widget)
