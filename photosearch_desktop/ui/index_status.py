"""The status-bar strip that follows an indexing run: done / total, rate, ETA, Cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

if TYPE_CHECKING:
    from ..engine.records import Progress


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def progress_text(p: Progress) -> str:
    if p.phase == "scanning":
        return "Looking for new and changed photos…"
    if p.phase == "signing":
        # Photos indexed by an earlier version: their pixels are read once more for the
        # duplicate checks (no model work).
        return f"Preparing duplicate checks: {p.done} / {p.total} photos"
    if p.phase == "finishing" or (p.total and p.done >= p.total):
        return f"Finishing: {p.done} / {p.total} photos"
    parts = [f"Indexing {p.done} / {p.total} photos"]
    if p.rate > 0:
        parts.append(f"{p.rate:.1f} photos/s")
    if p.eta_s is not None:
        parts.append(f"about {duration(p.eta_s)} left")
    return " · ".join(parts)


class IndexStatus(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("indexStatus")
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setToolTip("Stop indexing; photos done so far stay indexed")
        self.cancel.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.hide()

    def start(self) -> None:
        self.label.setText("Preparing to index…")
        self.bar.setRange(0, 0)  # busy until the scan knows how many photos there are
        self.cancel.setEnabled(True)
        self.show()

    def update_progress(self, p: Progress) -> None:
        self.label.setText(progress_text(p))
        if p.phase == "scanning" or p.total == 0:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, p.total)
            self.bar.setValue(p.done)

    def _cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.label.setText("Stopping after the current batch…")
        self.cancel_requested.emit()
