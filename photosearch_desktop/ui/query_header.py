"""Above the grid: what is shown (the library, or what a query looks for, term by term), how
many photos, the refine field, and the active filters."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from ..engine.records import BrowseOrder, SearchQuery
from .filter_chips import FilterChips
from .queries import term_words, title

THUMB_SIDE = 64
ORDERS: tuple[tuple[BrowseOrder, str], ...] = (
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("name", "By name"),
    ("folder", "By folder"),
)
REFINE_HINT = "Refine: + words or photos to add, - to avoid (e.g. “- people”, “2: at sunset”), then Enter"
REFINE_HINT_PHOTOS_ONLY = (
    "Refine with photos: right-click a photo → Add to search / Not like this (this model has no words)"
)


class QueryHeader(QWidget):
    back_to_browsing = Signal()
    refine = Signal(str)  # what was typed into the refine field
    remove_term = Signal(int)  # the term's position in the query
    order_changed = Signal(str)  # a BrowseOrder

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
        self.back = QPushButton("Back to browsing", self)
        self.back.setObjectName("backToBrowsing")
        self.back.setToolTip("Show the library again, where you were (Esc)")
        self.back.clicked.connect(self.back_to_browsing)
        self.save = QToolButton(self)  # its action is set by the window (the registry's save_search)
        self.order = QComboBox(self)
        self.order.setObjectName("browseOrder")
        for key, text in ORDERS:
            self.order.addItem(text, key)
        self.order.currentIndexChanged.connect(lambda _: self.order_changed.emit(self.order.currentData()))
        self.terms = QWidget(self)
        self._terms_layout = QHBoxLayout(self.terms)
        self._terms_layout.setContentsMargins(0, 0, 0, 0)
        self._terms_layout.setSpacing(6)
        self._term_chips: list[QToolButton] = []
        self.refine_field = QLineEdit(self)
        self.refine_field.setObjectName("refineField")
        self.refine_field.setClearButtonEnabled(True)
        self.refine_field.setAcceptDrops(False)  # a dropped photo is a new query
        self.refine_field.returnPressed.connect(self._refine_entered)
        self.chips = FilterChips(self)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.order)
        top.addWidget(self.save)
        top.addWidget(self.back)
        layout = QGridLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setHorizontalSpacing(12)
        layout.setVerticalSpacing(3)
        layout.addWidget(self.thumb, 0, 0, 5, 1, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top, 0, 1)
        layout.addWidget(self.detail, 1, 1)
        layout.addWidget(self.terms, 2, 1)
        layout.addWidget(self.refine_field, 3, 1)
        layout.addWidget(self.chips, 4, 1)
        layout.setColumnStretch(1, 1)
        self.set_text_terms(True)
        self.show_idle()

    # -- what is shown ------------------------------------------------------------------------

    def show_idle(self) -> None:
        """No library yet."""
        self._set_thumb_text("?")
        self.title.setText("Your photos")
        self.detail.setText("Drop, open or paste a photo — or type words, if the model understands them.")
        self._query_widgets(False)
        self.order.hide()

    def show_browse(self, count: int | None, where: str) -> None:
        """The library itself: ``count`` photos (None while counting) in ``where``."""
        self._set_thumb_text("▦")
        self.title.setText(where)
        self.detail.setText("Counting…" if count is None else f"{count:,} photo{'s' if count != 1 else ''} · {where}")
        self._query_widgets(False)
        self.order.show()

    def show_query(self, query: SearchQuery) -> None:
        self._set_thumb_text("Aa" if all(t.kind == "text" for t in query.positive) else "…")
        self.title.setText(title(query))
        self.title.setToolTip(title(query))
        self.detail.setText("Searching…")
        self._set_term_chips(query)
        self._query_widgets(True)
        self.order.hide()

    def set_order(self, order: BrowseOrder) -> None:
        self.order.blockSignals(True)
        self.order.setCurrentIndex(max(0, self.order.findData(order)))
        self.order.blockSignals(False)

    def set_text_terms(self, supported: bool) -> None:
        """Whether the model understands words (the refine field says what it can take)."""
        self.refine_field.setPlaceholderText(REFINE_HINT if supported else REFINE_HINT_PHOTOS_ONLY)

    def set_query_image(self, image: QImage) -> None:
        pixmap = QPixmap.fromImage(image).scaled(
            self.thumb.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.thumb.setStyleSheet("")
        self.thumb.setPixmap(pixmap)

    def set_detail(self, text: str) -> None:
        self.detail.setText(text)

    def term_texts(self) -> list[str]:
        """The term chips as shown (for tests and accessibility)."""
        return [chip.text() for chip in self._term_chips]

    # -- inside ---------------------------------------------------------------------------------

    def _query_widgets(self, query: bool) -> None:
        for widget in (self.back, self.terms, self.refine_field, self.save):
            widget.setVisible(query)

    def _set_term_chips(self, query: SearchQuery) -> None:
        for chip in self._term_chips:
            self._terms_layout.removeWidget(chip)
            chip.deleteLater()
        self._term_chips = []
        for position, term in enumerate(query.terms):
            chip = QToolButton(self.terms)
            chip.setObjectName("termChip" if term.weight > 0 else "avoidChip")
            sign = "+" if term.weight > 0 else "−"
            chip.setText(f"{sign} {term_words(term)}  ×")
            chip.setToolTip(f"{term.text or term.label}\nClick to take it out of the search")
            chip.setCursor(Qt.CursorShape.PointingHandCursor)
            if term.weight < 0:
                chip.setStyleSheet("QToolButton#avoidChip { color: #b3261e; }")  # red: steers away
            chip.clicked.connect(lambda _=False, p=position: self.remove_term.emit(p))
            self._terms_layout.insertWidget(position, chip)
            self._term_chips.append(chip)
        if self._terms_layout.count() == len(self._term_chips):
            self._terms_layout.addStretch(1)

    def _refine_entered(self) -> None:
        text = self.refine_field.text().strip()
        if text:
            self.refine_field.clear()
            self.refine.emit(text)

    def _set_thumb_text(self, text: str) -> None:
        self.thumb.setPixmap(QPixmap())
        self.thumb.setText(text)
        self.thumb.setStyleSheet("QLabel#queryThumb { border: 1px dashed palette(mid); border-radius: 6px;"
                                 " color: palette(mid); font-size: 20px; }")
