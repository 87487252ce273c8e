"""The left pane: which folder, which dates, and how close a match must be."""

from __future__ import annotations

from datetime import date, datetime, time

from PySide6.QtCore import QDate, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.records import SearchFilters

FOLDER_ROLE = int(Qt.ItemDataRole.UserRole) + 1


class FiltersPanel(QWidget):
    """Emits ``filters_changed`` when the folder or dates change (the query runs again) and
    ``min_score_changed`` when the score threshold moves (the grid just hides weak matches)."""

    filters_changed = Signal()
    min_score_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filtersPanel")

        self.tree = QTreeWidget(self)
        self.tree.setObjectName("folderTree")
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAcceptDrops(False)
        self.tree.currentItemChanged.connect(lambda *_: self.filters_changed.emit())
        self.set_folders([], "Library")

        self.from_check = QCheckBox("From", self)
        self.to_check = QCheckBox("To", self)
        today = QDate.currentDate()
        self.from_edit = self._date_edit(today.addYears(-1))
        self.to_edit = self._date_edit(today)
        self.undated_check = QCheckBox("Include photos without a date", self)
        self.undated_check.setToolTip(
            "Photos whose capture date is unknown cannot be placed in a date range.\n"
            "Tick this to keep them in the results while a date filter is on."
        )
        for box in (self.from_check, self.to_check):
            box.toggled.connect(self._dates_toggled)
        for edit, box in ((self.from_edit, self.from_check), (self.to_edit, self.to_check)):
            edit.dateChanged.connect(lambda _d, b=box: self._date_edited(b))
        self.undated_check.toggled.connect(lambda _: self._date_edited(None))

        dates = QGridLayout()
        dates.addWidget(self.from_check, 0, 0)
        dates.addWidget(self.from_edit, 0, 1)
        dates.addWidget(self.to_check, 1, 0)
        dates.addWidget(self.to_edit, 1, 1)
        dates.addWidget(self.undated_check, 2, 0, 1, 2)
        dates.setColumnStretch(1, 1)

        self.score_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.score_slider.setObjectName("minScoreSlider")
        self.score_slider.setRange(0, 100)
        self.score_slider.setPageStep(5)
        self.score_slider.setToolTip("Hide results that match less well than this")
        self.score_value = QLabel(self)
        self.score_value.setMinimumWidth(self.score_value.fontMetrics().horizontalAdvance("0.00 ") + 4)
        self.score_slider.valueChanged.connect(self._score_moved)
        score = QHBoxLayout()
        score.addWidget(self.score_slider, 1)
        score.addWidget(self.score_value)

        self.collapse_check = QCheckBox("Collapse near-duplicates", self)
        self.collapse_check.setObjectName("collapseDuplicates")
        self.collapse_check.setChecked(True)
        self.collapse_check.setToolTip(
            "Show near-duplicates of a result (copies, other sizes, bursts) folded under it,\n"
            "marked +n, so the results are all different pictures."
        )
        self.collapse_check.toggled.connect(lambda _: self.filters_changed.emit())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addWidget(_heading("Folders", self))
        layout.addWidget(self.tree, 1)
        layout.addWidget(_heading("Date taken", self))
        layout.addLayout(dates)
        layout.addWidget(_heading("Minimum score", self))
        layout.addLayout(score)
        layout.addWidget(self.collapse_check)
        self._dates_toggled()
        self._score_moved(0)

    def _date_edit(self, value: QDate) -> QDateEdit:
        edit = QDateEdit(value, self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        line = edit.findChild(QLineEdit)
        if line is not None:
            line.setAcceptDrops(False)  # photos dropped here search, not type
        return edit

    # -- folders -------------------------------------------------------------------------------

    def set_folders(self, folders: list[str], library_name: str) -> None:
        """Rebuild the tree from the library's folders, keeping the chosen one if it remains."""
        chosen = self.folder()
        with QSignalBlocker(self.tree):
            self.tree.clear()
            root = QTreeWidgetItem(self.tree, [f"All photos — {library_name}"])
            root.setData(0, FOLDER_ROLE, "")
            items = {"": root}
            for folder in sorted(folders):
                parent_path, _, name = folder.rpartition("/")
                parent = items.get(parent_path, root)
                item = QTreeWidgetItem(parent, [name])
                item.setData(0, FOLDER_ROLE, folder)
                item.setToolTip(0, folder)
                items[folder] = item
            root.setExpanded(True)
            current = items.get(chosen, root)
            self.tree.setCurrentItem(current)
            self._expand_to(current)
        if chosen and chosen not in items:
            self.filters_changed.emit()  # the chosen folder is gone: results widen

    def folder(self) -> str:
        item = self.tree.currentItem()
        return str(item.data(0, FOLDER_ROLE) or "") if item is not None else ""

    def set_folder(self, folder: str) -> bool:
        """Choose a folder by its library-relative path; False if the tree has no such folder."""
        for item in self._items():
            if item.data(0, FOLDER_ROLE) == folder:
                self._expand_to(item)
                self.tree.setCurrentItem(item)
                return True
        return False

    def clear_folder(self) -> None:
        self.set_folder("")

    def _items(self) -> list[QTreeWidgetItem]:
        out: list[QTreeWidgetItem] = []
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            if item is not None:
                out.append(item)
                stack.extend(item.child(i) for i in range(item.childCount()))
        return out

    @staticmethod
    def _expand_to(item: QTreeWidgetItem) -> None:
        parent = item.parent()
        while parent is not None:
            parent.setExpanded(True)
            parent = parent.parent()

    # -- dates -----------------------------------------------------------------------------------

    def _dates_active(self) -> bool:
        return self.from_check.isChecked() or self.to_check.isChecked()

    def _date_edited(self, box: QCheckBox | None) -> None:
        """A date or the undated box changed: only matters while that date filter is on."""
        if (box.isChecked() if box is not None else self._dates_active()):
            self.filters_changed.emit()

    def _dates_toggled(self) -> None:
        self.from_edit.setEnabled(self.from_check.isChecked())
        self.to_edit.setEnabled(self.to_check.isChecked())
        self.undated_check.setEnabled(self._dates_active())
        self.filters_changed.emit()

    def set_dates(self, start: date | None, end: date | None) -> None:
        with QSignalBlocker(self.from_check), QSignalBlocker(self.to_check):
            self.from_check.setChecked(start is not None)
            self.to_check.setChecked(end is not None)
            if start is not None:
                self.from_edit.setDate(QDate(start.year, start.month, start.day))
            if end is not None:
                self.to_edit.setDate(QDate(end.year, end.month, end.day))
        self._dates_toggled()

    def set_date_bounds(self, first: date, last: date) -> None:
        """Start the date pickers at the library's own first and last capture dates."""
        for edit, value in ((self.from_edit, first), (self.to_edit, last)):
            with QSignalBlocker(edit):
                edit.setDate(QDate(value.year, value.month, value.day))

    def clear_dates(self) -> None:
        self.set_dates(None, None)

    def date_range(self) -> tuple[date | None, date | None]:
        start = self.from_edit.date().toPython() if self.from_check.isChecked() else None
        end = self.to_edit.date().toPython() if self.to_check.isChecked() else None
        return start, end  # type: ignore[return-value]  # QDate.toPython gives a date

    # -- score -----------------------------------------------------------------------------------

    def _score_moved(self, value: int) -> None:
        self.score_value.setText("any" if value == 0 else f"{value / 100:.2f}")
        self.min_score_changed.emit(value / 100)

    def min_score(self) -> float:
        return self.score_slider.value() / 100

    def clear_min_score(self) -> None:
        self.score_slider.setValue(0)

    # -- the engine's view ---------------------------------------------------------------------

    def apply(self, filters: SearchFilters) -> None:
        """Show ``filters`` (a saved search's); one ``filters_changed`` follows."""
        blockers = [QSignalBlocker(w) for w in (self.tree, self.undated_check, self.collapse_check, self.score_slider)]
        if not self.set_folder(filters.folder):
            self.set_folder("")
        self.undated_check.setChecked(filters.include_undated)
        self.collapse_check.setChecked(filters.collapse_duplicates)
        self.score_slider.setValue(round((filters.min_score or 0.0) * 100))
        del blockers
        self._score_moved(self.score_slider.value())
        start = filters.date_from.date() if filters.date_from else None
        end = filters.date_to.date() if filters.date_to else None
        self.set_dates(start, end)  # emits filters_changed

    def filters(self) -> SearchFilters:
        start, end = self.date_range()
        return SearchFilters(
            folder=self.folder(),
            date_from=datetime.combine(start, time.min) if start else None,
            date_to=datetime.combine(end, time(23, 59, 59)) if end else None,  # the whole last day
            include_undated=self.undated_check.isChecked(),
            collapse_duplicates=self.collapse_check.isChecked(),
        )


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, 6, 0, 0)
    return label
