"""Export results…: the selected photos (or everything shown) as a CSV, or copies of the files
in a folder the person chooses, never inside the library. Nothing is moved."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ..engine.records import SearchResult
from .errors import describe_error

if TYPE_CHECKING:
    from ..engine.library import Library
    from .session import LibrarySession

COPY_CONFIRM_OVER = 500  # copying more photos than this asks first


@dataclass(frozen=True)
class ExportChoice:
    """The photos to export: a query's results in hand, or browsed photos by id (in the grid's
    order), whose records are read when the export runs."""

    results: Sequence[SearchResult] = ()
    photo_ids: Sequence[int] = ()

    def __len__(self) -> int:
        return len(self.photo_ids) or len(self.results)

    def read(self, library: Library) -> list[SearchResult]:
        """The results to write, on a background thread (browsed photos have no score)."""
        if not self.photo_ids:
            return list(self.results)
        found = library.photos(self.photo_ids)
        return [SearchResult(p, math.nan, str(library.abs_path(p)))
                for p in (found.get(i) for i in self.photo_ids) if p is not None]


def export_results(
    parent: QWidget, session: LibrarySession, chosen: ExportChoice, report: Callable[[str], None]
) -> None:
    library = session.library
    if library is None or not len(chosen):
        report("Nothing to export: search, or select some photos first.")
        return
    n = len(chosen)
    kind = ask_kind(parent, n)
    calls = session.calls()
    if kind == "csv":
        target, _ = QFileDialog.getSaveFileName(parent, "Export results as CSV", str(Path.home() / "photosearch.csv"),
                                                "CSV files (*.csv)")
        if target:
            def write() -> int:
                results = chosen.read(library)
                library.export_csv(results, Path(target))
                return len(results)

            calls.submit(write, lambda rows: report(f"Wrote {rows} rows to {target}."),
                         lambda exc: report(describe_error(exc).text))
    elif kind == "copy":
        folder = QFileDialog.getExistingDirectory(parent, "Copy the photos into…", str(Path.home()))
        if not folder:
            return
        if n > COPY_CONFIRM_OVER and QMessageBox.question(
                parent, "Copy many photos?", f"Copy {n} photos into {folder}?") != QMessageBox.StandardButton.Yes:
            return
        report(f"Copying {n} photos into {folder}…")
        calls.submit(lambda: library.copy_photos([r.photo for r in chosen.read(library)], Path(folder)),
                     lambda copied: report(f"Copied {len(copied)} photos into {folder}."),
                     lambda exc: report(describe_error(exc).text))


def ask_kind(parent: QWidget, n: int) -> str | None:
    """"csv", "copy", or None when the person cancels."""
    box = QMessageBox(QMessageBox.Icon.Question, "Export results",
                      f"Export {n} photo{'s' if n != 1 else ''}: as a list (CSV with path, score and date), "
                      "or as copies of the files in a folder of your choice? The photos themselves stay where they are.",
                      QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName("exportChoice")
    csv_button = box.addButton("Save as CSV…", QMessageBox.ButtonRole.AcceptRole)
    copy_button = box.addButton("Copy files…", QMessageBox.ButtonRole.AcceptRole)
    box.exec()
    clicked = box.clickedButton()
    return "csv" if clicked is csv_button else "copy" if clicked is copy_button else None
