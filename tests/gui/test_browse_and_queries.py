"""Browsing the library and asking better questions, driven as a person would: the grid opens
on the photos, a folder narrows it, several photos search together, "- a photo" refines, a
saved search survives a restart, and the results export as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from libgen import LAYOUT, make_library
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from photosearch_desktop.engine.library import app_dirs
from photosearch_desktop.ui import desktop, export_dialog
from photosearch_desktop.ui.main_window import MainWindow
from photosearch_desktop.ui.settings import AppSettings

MODEL = "efficientnet-lite2"
TIMEOUT_MS = 120_000


def new_window(qtbot, data_dir: Path, model: str | None = MODEL) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(AppSettings(app_dirs(data_dir).config), data_dir=data_dir, model=model)
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    qtbot.waitExposed(window)
    return window


def browsing(window: MainWindow, count: int) -> bool:
    model = window.photo_model
    return model.browsing and model.rowCount() == count and all(model.item(r) is not None for r in range(count))


def shown(window: MainWindow) -> list[str]:
    model = window.photo_model
    return [model.item(r).photo.rel_path for r in range(model.rowCount())]  # type: ignore[union-attr]


def wait_results(qtbot, window: MainWindow) -> list[str]:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not window.photo_model.browsing and window.photo_model.rowCount() > 0
                    and window.header.detail.text() != "Searching…", timeout=TIMEOUT_MS)
    return shown(window)


def select_rows(window: MainWindow, *rows: int) -> None:
    selection = window.grid.selectionModel()
    selection.clearSelection()
    for row in rows:  # as Ctrl-clicks do
        selection.select(window.photo_model.index(row), QItemSelectionModel.SelectionFlag.Select)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_browse_refine_save_restart_and_export(qtbot, tmp_path: Path, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "Photos")
    window = new_window(qtbot, data_dir)
    window.library.open(root)

    # The grid opens on the library, newest first, with a count.
    qtbot.waitUntil(lambda: browsing(window, len(LAYOUT)), timeout=TIMEOUT_MS)
    assert f"{len(LAYOUT)} photos · All photos" in window.header.detail.text()
    qtbot.waitUntil(lambda: window.session is not None and not window.session.indexing, timeout=TIMEOUT_MS)
    # Once indexed, the grid is read again: every photo now has its capture date.
    qtbot.waitUntil(lambda: browsing(window, len(LAYOUT)) and all(
        window.photo_model.item(r).photo.taken_at for r in range(len(LAYOUT))), timeout=TIMEOUT_MS)  # type: ignore[union-attr]
    dates = [window.photo_model.item(r).photo.taken_at for r in range(len(LAYOUT))]  # type: ignore[union-attr]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    # The date pickers start at the library's own first and last camera dates.
    assert window.filters.from_edit.date().toPython().isoformat() == "2019-07-01"
    assert window.filters.to_edit.date().toPython().isoformat() == "2020-03-06"

    # A folder narrows it to that subtree.
    trips = sorted(rel for rel, _, _ in LAYOUT if rel.startswith("2019/Trips/"))
    assert window.filters.set_folder("2019/Trips")
    qtbot.waitUntil(lambda: browsing(window, len(trips)), timeout=TIMEOUT_MS)
    assert sorted(shown(window)) == trips
    assert "8 photos · 2019/Trips" in window.header.detail.text()

    # Double-click opens the photo in the person's viewer.
    opened: list[Path] = []
    monkeypatch.setattr(desktop, "open_file", lambda path: opened.append(path) or True)
    first = window.photo_model.index(0)
    centre = window.grid.visualRect(first).center()
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened == [root / shown(window)[0]]

    # Two photos searched together; the header shows both, the results leave them out.
    a, b = shown(window)[:2]
    select_rows(window, 0, 1)
    assert window.commands["find_similar_selected"].isEnabled()
    window.commands["find_similar_selected"].trigger()
    together = wait_results(qtbot, window)
    assert {a, b}.isdisjoint(together)
    assert window.header.term_texts() == [f"+ {a}  ×", f"+ {b}  ×"]

    # "- a photo" steers away from it: the results change and the chip shows.
    window.header.refine_field.setText("- 2019/Trips/trip_05.jpg")
    qtbot.keyClick(window.header.refine_field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.header.term_texts()) == 3, timeout=TIMEOUT_MS)
    refined = wait_results(qtbot, window)
    assert window.header.term_texts()[2] == "− 2019/Trips/trip_05.jpg  ×"
    assert "2019/Trips/trip_05.jpg" not in refined and refined != together
    # A weight that is no weight is refused in the status bar; the query stays as it was.
    window.header.refine_field.setText("0: 2019/Trips/trip_06.jpg")
    qtbot.keyClick(window.header.refine_field, Qt.Key.Key_Return)
    assert "must be a number above 0" in window.statusBar().currentMessage()
    assert len(window.header.term_texts()) == 3
    assert window.header.refine_field.text() == "0: 2019/Trips/trip_06.jpg"  # given back to correct
    window.header.refine_field.clear()

    # Saved under a name: it is listed, and outlives the window.
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Trips, not trip 5", True)))
    window.commands["save_search"].trigger()
    qtbot.waitUntil(lambda: window.saved.names() == ["Trips, not trip 5"], timeout=TIMEOUT_MS)
    window.close()

    again = new_window(qtbot, data_dir, model=None)
    again.start(None)  # the last library
    qtbot.waitUntil(lambda: again.saved.names() == ["Trips, not trip 5"], timeout=TIMEOUT_MS)
    item = again.saved.list.item(0)
    again.saved.list.itemClicked.emit(item)
    assert wait_results(qtbot, again) == refined
    assert again.filters.folder() == "2019/Trips"  # the search's filters came with it

    # Export the results as CSV: the file has the rows shown.
    target = tmp_path / "export" / "results.csv"
    target.parent.mkdir()
    monkeypatch.setattr(export_dialog, "ask_kind", lambda parent, n: "csv")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    again.commands["export_results"].trigger()
    qtbot.waitUntil(target.exists, timeout=TIMEOUT_MS)
    with open(target, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"] for r in rows] == refined
    assert all(r["score"] for r in rows)

    # Esc goes back to browsing, in the saved search's folder.
    again.commands["back_to_browsing"].trigger()
    qtbot.waitUntil(lambda: browsing(again, len(trips)), timeout=TIMEOUT_MS)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_copies_never_go_into_the_library(qtbot, tmp_path: Path, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "Photos")
    window = new_window(qtbot, data_dir)
    window.library.open(root)
    qtbot.waitUntil(lambda: window.session is not None and window.session.info is not None
                    and not window.session.indexing and browsing(window, len(LAYOUT)), timeout=TIMEOUT_MS)
    select_rows(window, 0, 1, 2)
    said: list[str] = []  # the status bar's messages (a later one may replace a message before it is read)
    window.statusBar().messageChanged.connect(said.append)
    monkeypatch.setattr(export_dialog, "ask_kind", lambda parent, n: "copy")
    inside = root / "2019" / "copies"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(inside)))
    window.commands["export_results"].trigger()
    qtbot.waitUntil(lambda: any("inside the photo library" in m for m in said), timeout=TIMEOUT_MS)
    assert not inside.exists()

    outside = tmp_path / "picked"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(outside)))
    window.commands["export_results"].trigger()
    qtbot.waitUntil(lambda: any("Copied 3 photos" in m for m in said), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: browsing(window, len(LAYOUT)), timeout=TIMEOUT_MS)  # a late refresh may be reading
    names = sorted(p.name for p in outside.iterdir())
    assert names == sorted(Path(p).name for p in shown(window)[:3])


def test_export_and_search_reach_rows_whose_records_are_not_read_yet(qtbot, tmp_path: Path, data_dir: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch) -> None:
    """Browsed records are read a page at a time: a selection made (Ctrl+A) or restored (the list
    read again after indexing) before its pages arrive still exports, and searches with, every
    photo in it."""
    root = make_library(tmp_path / "Photos")
    window = new_window(qtbot, data_dir)
    window.library.open(root)
    qtbot.waitUntil(lambda: window.session is not None and window.session.info is not None
                    and not window.session.indexing and browsing(window, len(LAYOUT)), timeout=TIMEOUT_MS)
    model = window.photo_model
    expected = shown(window)
    ids = np.asarray(model.photo_ids(range(model.rowCount())), dtype=np.int64)
    model.set_browse(root, ids, lambda page_ids, done: None)  # pages that are never read
    assert model.rowCount() == len(LAYOUT) and model.item(0) is None
    window.grid.selectAll()
    said: list[str] = []
    window.statusBar().messageChanged.connect(said.append)
    monkeypatch.setattr(export_dialog, "ask_kind", lambda parent, n: "csv")
    target = tmp_path / "chosen.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.commands["export_results"].trigger()
    qtbot.waitUntil(lambda: any("Wrote" in m for m in said), timeout=TIMEOUT_MS)
    assert any(f"Wrote {len(LAYOUT)} rows" in m for m in said)
    with target.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == expected

    # "Find similar to these" on rows not read yet searches with every one of them.
    select_rows(window, 0, 1)
    window.commands["find_similar_selected"].trigger()
    wait_results(qtbot, window)
    assert window.header.term_texts() == [f"+ {expected[0]}  ×", f"+ {expected[1]}  ×"]


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
@pytest.mark.expect_log(r"failed to load: The weights of clip-vit-b-32", r"indexing failed: The weights of clip-vit-b-32")
def test_offline_clip_offers_the_built_in_model_and_photos_show_at_once(qtbot, tmp_path: Path, data_dir: Path,
                                                                          monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # CLIP weights cannot be downloaded
    root = make_library(tmp_path / "Photos")
    window = new_window(qtbot, data_dir, model="clip-vit-b-32")
    window.library.open(root)

    def offer() -> QMessageBox | None:
        boxes = [w for w in window.findChildren(QMessageBox) if w.objectName() == "modelFailed" and w.isVisible()]
        return boxes[0] if boxes else None

    qtbot.waitUntil(lambda: offer() is not None, timeout=TIMEOUT_MS)
    box = offer()
    assert box is not None and "--" not in box.text() and "Settings" in box.text()
    # The scan was saved before the model was needed: the photos are there to browse already.
    qtbot.waitUntil(lambda: browsing(window, len(LAYOUT)), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.filters.tree.topLevelItem(0).childCount() == 3, timeout=TIMEOUT_MS)  # 2019 2020 scans
    use = next(b for b in box.buttons() if b.objectName() == "useBuiltInModel")
    use.click()
    qtbot.waitUntil(lambda: window.info is not None and window.info.model_name == MODEL and window.session is not None
                    and not window.session.indexing and window.info.indexed == len(LAYOUT), timeout=TIMEOUT_MS)
    assert window.prefs.model == MODEL
