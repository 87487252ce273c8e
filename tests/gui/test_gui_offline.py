"""The window when photos' drive is not there, and when a library moved: driven as a person
would, with real engine work (efficientnet-lite2, the model in its own process) on a small
generated library (24 photos, 14 of them under 2019/)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from libgen import LAYOUT, make_library, near_copy, picture
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QMessageBox

from photosearch_desktop.engine.records import IndexReport
from photosearch_desktop.engine.system.paths import app_dirs
from photosearch_desktop.ui.library_controller import LIBRARY_PAGE, WELCOME_PAGE
from photosearch_desktop.ui.main_window import MainWindow
from photosearch_desktop.ui.queries import file_query
from photosearch_desktop.ui.settings import AppSettings
from photosearch_desktop.ui.thumbnails import disk_key

MODEL = "efficientnet-lite2"
TIMEOUT_MS = 90_000
PHOTOS = len(LAYOUT)
IN_2019 = sum(rel.startswith("2019/") for rel, _, _ in LAYOUT)


def new_window(qtbot, data_dir: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(AppSettings(app_dirs(data_dir).config), data_dir=data_dir, model=MODEL)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.filters.collapse_check.setChecked(False)  # every photo its own result
    return window


class Reports:
    """Every index run's report, as the window's session announces them."""

    def __init__(self) -> None:
        self.runs: list[IndexReport] = []

    def watch(self, window: MainWindow) -> None:
        """Call it right after what starts the session (open, a relink answer), before the event
        loop runs: the session's signals are queued to this thread, so none is missed."""
        assert window.session is not None
        window.session.index_finished.connect(lambda outcome: self.runs.append(outcome.report))

    def wait(self, qtbot, window: MainWindow, runs: int) -> IndexReport:  # type: ignore[no-untyped-def]
        qtbot.waitUntil(lambda: len(self.runs) >= runs and window.session is not None and not window.session.indexing,
                        timeout=TIMEOUT_MS)
        return self.runs[-1]


def settle(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Wait for the model's warm-up: a window closed while the model process starts would wait
    for it, on a busy machine longer than the window waits for its threads."""
    qtbot.waitUntil(lambda: window.library._model_state in ("ready", "failed"), timeout=TIMEOUT_MS)


def boxes(window: MainWindow, name: str) -> list[QMessageBox]:
    return [b for b in window.findChildren(QMessageBox, name) if b.isVisible()]


def click(box: QMessageBox, text: str) -> None:
    [button] = [b for b in box.buttons() if b.text() == text]
    button.click()


def results(qtbot, window: MainWindow, check=lambda paths: bool(paths)) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    model = window.photo_model

    def shown() -> list[tuple[str, float]]:
        items = [model.item(i) for i in range(model.rowCount())]
        return [(item.photo.rel_path, round(item.score or 0.0, 5)) for item in items if item is not None]

    qtbot.waitUntil(lambda: check([p for p, _ in shown()]) and window.header.detail.text() != "Searching…",
                    timeout=TIMEOUT_MS)
    return shown()


@pytest.fixture
def query(tmp_path: Path) -> Path:
    path = tmp_path / "query.png"
    near_copy(picture(203)).save(path)
    return path


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_a_disconnected_folder_is_offered_to_wait_for_or_remove(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, data_dir: Path, query: Path
) -> None:
    root = make_library(tmp_path / "Pictures")
    window = new_window(qtbot, data_dir)
    window.library.open(root)
    reports = Reports()
    reports.watch(window)
    reports.wait(qtbot, window, 1)
    window.search.run(file_query([query]))
    before = results(qtbot, window, lambda paths: len(paths) == PHOTOS)
    assert not window.commands["offline_photos"].isEnabled()

    (root / "2019").rename(tmp_path / "drive")
    window.commands["update_index"].trigger()
    report = reports.wait(qtbot, window, 2)
    assert (report.offline, report.deleted) == (IN_2019, 0)
    qtbot.waitUntil(lambda: bool(boxes(window, "offlineNotice")), timeout=TIMEOUT_MS)
    [box] = boxes(window, "offlineNotice")
    assert box.text() == f"2019/ ({IN_2019} photos) is not reachable — is a drive disconnected?"
    assert {b.text() for b in box.buttons()} == {"Keep waiting", "Remove them from the index"}
    assert f"{IN_2019} offline" in window.summary.text() and window.commands["offline_photos"].isEnabled()
    # The query ran again: what is offline is not among the results.
    after = results(qtbot, window, lambda paths: len(paths) == PHOTOS - IN_2019)
    assert after == [r for r in before if not r[0].startswith("2019/")]
    assert not any(f.startswith("2019") for f in window.session.info.folders)

    click(box, "Keep waiting")
    qtbot.waitUntil(lambda: not boxes(window, "offlineNotice"))
    window.commands["update_index"].trigger()  # still away: nothing new to tell
    reports.wait(qtbot, window, 3)
    assert not boxes(window, "offlineNotice") and window.session.info.offline == IN_2019

    (tmp_path / "drive").rename(root / "2019")  # the drive is back
    window.commands["update_index"].trigger()
    report = reports.wait(qtbot, window, 4)
    assert (report.returned, report.embedded, report.added) == (IN_2019, 0, 0)
    assert "offline" not in window.summary.text() and not boxes(window, "offlineNotice")
    assert results(qtbot, window, lambda paths: len(paths) == PHOTOS) == before

    (root / "2019").rename(tmp_path / "drive")  # away again, for good this time
    window.commands["update_index"].trigger()
    reports.wait(qtbot, window, 5)
    qtbot.waitUntil(lambda: bool(boxes(window, "offlineNotice")), timeout=TIMEOUT_MS)
    click(boxes(window, "offlineNotice")[0], "Remove them from the index")
    report = reports.wait(qtbot, window, 6)
    assert (report.deleted, report.offline) == (IN_2019, 0)
    info = window.session.info
    assert (info.offline, info.indexed) == (0, PHOTOS - IN_2019)
    assert not window.commands["offline_photos"].isEnabled()

    settle(qtbot, window)
    window.library.close()
    root.rename(tmp_path / "whole-drive")  # the mount point is gone with the drive
    window.library.open(root)  # e.g. the last library, at the next start
    qtbot.waitUntil(lambda: bool(boxes(window, "offlineNotice")), timeout=TIMEOUT_MS)
    assert window.pages.currentIndex() == LIBRARY_PAGE
    [box] = boxes(window, "offlineNotice")
    left = PHOTOS - IN_2019
    assert box.text() == f"The photo folder {root} ({left} photos) is not reachable — is a drive disconnected?"
    assert f"{left} offline" in window.summary.text()
    settle(qtbot, window)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_a_moved_library_is_recognised_and_its_index_used(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, data_dir: Path, query: Path
) -> None:
    old = make_library(tmp_path / "old" / "Pictures")
    window = new_window(qtbot, data_dir)
    window.library.open(old)
    qtbot.waitUntil(lambda: window.session is not None and window.session.info is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.session.info.indexed == PHOTOS and not window.session.indexing, timeout=TIMEOUT_MS)
    window.search.run(file_query([query]))
    before = results(qtbot, window, lambda paths: len(paths) == PHOTOS)
    first = window.photo_model.index(0)
    qtbot.waitUntil(lambda: isinstance(window.photo_model.data(first, Qt.ItemDataRole.DecorationRole), QPixmap),
                    timeout=TIMEOUT_MS)
    place_before = window.thumbnails.library
    side = next(side for (path, side) in window.thumbnails._pixmaps if path.endswith(before[0][0]))
    cached = {p.name for p in app_dirs(data_dir).thumbnails.rglob("*.jpg")}

    new = tmp_path / "new" / "Photos"
    new.parent.mkdir()
    old.rename(new)
    window.library.open(new)
    qtbot.waitUntil(lambda: bool(boxes(window, "relinkOffer")), timeout=TIMEOUT_MS)
    [box] = boxes(window, "relinkOffer")
    assert box.text() == f"This looks like the library that was at {old} — use its index?"
    click(box, "Cancel")  # not now: nothing is opened, nothing changes
    qtbot.waitUntil(lambda: window.pages.currentIndex() == WELCOME_PAGE)

    window.library.open(new)
    qtbot.waitUntil(lambda: bool(boxes(window, "relinkOffer")), timeout=TIMEOUT_MS)
    reports = Reports()
    click(boxes(window, "relinkOffer")[0], "Use its index")
    reports.watch(window)  # at once: an index run with nothing to do can end before the next check
    report = reports.wait(qtbot, window, 1)
    assert (report.embedded, report.added, report.deleted, report.offline) == (0, 0, 0, 0)
    assert window.session.info.root == new and window.session.info.indexed == PHOTOS
    window.search.run(file_query([query]))
    assert results(qtbot, window, lambda paths: len(paths) == PHOTOS) == before
    assert window.photo_model.item(0).abs_path == str(new / before[0][0])
    # Thumbnails are keyed by the library's id and the photo's place in it: still valid.
    place = window.thumbnails.library
    assert place is not None and place_before is not None and place.library_id == place_before.library_id
    assert place.root == new and f"{disk_key(new / before[0][0], side, place)}.jpg" in cached

    # Moved once more, and this time the person wants it indexed anew.
    settle(qtbot, window)
    newer = tmp_path / "Copy"
    new.rename(newer)
    window.library.open(newer)
    qtbot.waitUntil(lambda: bool(boxes(window, "relinkOffer")), timeout=TIMEOUT_MS)
    click(boxes(window, "relinkOffer")[0], "Index anew")
    reports = Reports()
    reports.watch(window)
    report = reports.wait(qtbot, window, 1)
    assert report.embedded == PHOTOS and window.session.info.root == newer
    settle(qtbot, window)
