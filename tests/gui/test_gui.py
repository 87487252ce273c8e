"""The desktop window, driven as a person would, with real engine work (efficientnet-lite2)
on a small generated library. Each test has its own data folder under ``tmp_path``
(``data_dir`` from conftest.py also sets PHOTOSEARCH_DATA_DIR)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random
import signal
import time
from datetime import date, datetime
from pathlib import Path

import imagegen  # tests/helpers is on sys.path (tests/conftest.py)
import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QToolButton

from photosearch_desktop.engine.system.paths import app_dirs
from photosearch_desktop.ui.latest import Ticket
from photosearch_desktop.ui.library_controller import LIBRARY_PAGE, WELCOME_PAGE
from photosearch_desktop.ui.main_window import MainWindow
from photosearch_desktop.ui.settings import AppSettings, Preferences
from photosearch_desktop.ui.settings_dialog import SettingsDialog
from photosearch_desktop.ui.window_app import ExceptionReporter

MODEL = "efficientnet-lite2"
INDEX_TIMEOUT_MS = 90_000
QUERY_TIMEOUT_MS = 30_000

# -- a small generated library ----------------------------------------------------------------


def _pattern(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """Colour noise with a few bold shapes: every seed looks clearly different."""
    rng = random.Random(seed)
    im = imagegen.noise(size, seed=seed)
    draw = ImageDraw.Draw(im)
    for _ in range(3):
        x0, y0 = rng.randrange(0, size[0] - 40), rng.randrange(0, size[1] - 40)
        box = (x0, y0, x0 + rng.randrange(30, 80), y0 + rng.randrange(30, 70))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return im


def _near_copy(src: Path, dst: Path) -> Path:
    """What a person would search with: the same picture, smaller and recompressed."""
    with Image.open(src) as im:
        im.convert("RGB").resize((136, 102), Image.Resampling.BILINEAR).save(dst, "JPEG", quality=70)
    return dst


def _write(path: Path, im: Image.Image, taken: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = imagegen.make_exif(datetime_original=taken, make="Testcam", model="Testcam T1") if taken else None
    return imagegen.write_jpeg(path, im, quality=88, exif=exif)


def make_library(root: Path) -> Path:
    seed = 0
    for i in range(6):
        seed += 1
        _write(root / "2019" / "Trips" / f"trip{i}.jpg", _pattern(seed), f"2019:07:{i + 1:02d} 10:00:00")
    for i in range(6):
        seed += 1
        _write(root / "2020" / "Home" / f"home{i}.jpg", _pattern(seed), f"2020:03:{i + 1:02d} 18:30:00")
    for i in range(4):
        seed += 1
        path = _write(root / "2021" / f"garden{i}.jpg", _pattern(seed, (120, 96)))
        imagegen.set_mtime(path, datetime(2021, 5, 1, 12, 0))
    (root / "broken.jpg").write_bytes(random.Random(7).randbytes(3000))  # not an image at all
    return root


PHOTOS = 16  # indexable photos made by make_library


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return make_library(tmp_path / "Photos")


def new_window(qtbot, data_dir: Path, model: str | None = MODEL, weights: Path | None = None) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(AppSettings(app_dirs(data_dir).config), data_dir=data_dir, model=model, weights=weights)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def wait_indexed(qtbot, window: MainWindow, photos: int = PHOTOS) -> None:  # type: ignore[no-untyped-def]
    def done() -> bool:
        s = window.session
        return s is not None and s.info is not None and not s.indexing and s.info.indexed == photos

    qtbot.waitUntil(done, timeout=INDEX_TIMEOUT_MS)


def choose_library_on_welcome(qtbot, window: MainWindow, root: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(root)))
    qtbot.mouseClick(window.welcome.button, Qt.MouseButton.LeftButton)


def drop_files(window: MainWindow, *paths: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = window.rect().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)


def result_paths(window: MainWindow) -> list[str]:
    """The query's results shown (none while the grid browses the library)."""
    model = window.photo_model
    if model.browsing:
        return []
    return [model.item(i).photo.rel_path for i in range(model.rowCount())]


def wait_results(qtbot, window: MainWindow, check=lambda paths: bool(paths)) -> list[str]:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: bool(check(result_paths(window))) and window.header.detail.text() != "Searching…",
                    timeout=QUERY_TIMEOUT_MS)
    return result_paths(window)


def click_result(qtbot, window: MainWindow, row: int) -> None:  # type: ignore[no-untyped-def]
    index = window.photo_model.index(row)
    window.grid.scrollTo(index)
    rect = window.grid.visualRect(index)
    assert rect.isValid() and window.grid.viewport().rect().intersects(rect)
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def message_boxes(name: str, window: MainWindow | None = None) -> list[QMessageBox]:
    """Visible message boxes called ``name`` (of ``window``, or parentless ones)."""
    widgets = window.findChildren(QMessageBox) if window is not None else QApplication.topLevelWidgets()
    return [w for w in widgets if isinstance(w, QMessageBox) and w.objectName() == name and w.isVisible()]


# -- tests ----------------------------------------------------------------------------------------


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_first_start_index_drop_preview_and_filters(qtbot, library: Path, data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, data_dir)
    assert window.pages.currentIndex() == WELCOME_PAGE
    assert not window.search_field.isEnabled()

    choose_library_on_welcome(qtbot, window, library, monkeypatch)
    assert window.pages.currentIndex() == LIBRARY_PAGE
    progress: list = []
    window.session.index_progress.connect(progress.append)
    qtbot.waitUntil(window.index_status.isVisible, timeout=INDEX_TIMEOUT_MS)
    wait_indexed(qtbot, window)
    assert not window.index_status.isVisible()
    assert any(p.phase == "embedding" and p.total == PHOTOS + 1 for p in progress)  # + the broken file
    assert "16 photos indexed" in window.summary.text()
    assert "ONNX Runtime" in window.summary.text(), "the status bar says what runs the model"

    # efficientnet-lite2 has no text tower: the field says why it is off.
    assert not window.search_field.isEnabled()
    assert "CLIP" in window.search_field.toolTip()

    # Every photo as its own result (collapsing near-duplicates is on by default; see
    # test_gui_duplicates.py): these generated patterns look alike to the model.
    window.filters.collapse_check.setChecked(False)
    # Drop a near-copy of a library photo (from outside the library) onto the window.
    query = _near_copy(library / "2019" / "Trips" / "trip3.jpg", tmp_path / "holiday.jpg")
    drop_files(window, query)
    paths = wait_results(qtbot, window)
    assert paths[0] == "2019/Trips/trip3.jpg"
    assert len(paths) == PHOTOS
    assert "holiday.jpg" in window.header.title.text()
    qtbot.waitUntil(lambda: window.header.thumb.pixmap() is not None and not window.header.thumb.pixmap().isNull())
    scores = [window.photo_model.item(i).score for i in range(len(paths))]
    assert scores == sorted(scores, reverse=True)

    # Thumbnails are made in the background and cached on disk (not in the library).
    first = window.photo_model.index(0)
    qtbot.waitUntil(lambda: isinstance(window.photo_model.data(first, Qt.ItemDataRole.DecorationRole), QPixmap),
                    timeout=QUERY_TIMEOUT_MS)
    assert list(app_dirs(data_dir).thumbnails.rglob("*.jpg"))
    assert not any(p.suffix == ".part" for p in library.rglob("*"))

    # Click a result: the preview shows it and its facts.
    click_result(qtbot, window, 1)
    second = window.photo_model.item(1)
    assert window.preview.fields["Path"].text() == second.photo.rel_path
    assert window.preview.shown_path == second.abs_path
    qtbot.waitUntil(window.preview.photo.has_image, timeout=QUERY_TIMEOUT_MS)
    assert "160 × 120 px" in window.preview.fields["Size"].text()
    assert window.preview.fields["Score"].text() == f"{second.score:.3f}"

    # Keyboard: Right moves to the next result, and the preview follows.
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.preview.fields["Path"].text() == window.photo_model.item(2).photo.rel_path

    # Copy path puts the file's path on the clipboard; dragging out carries its URL.
    window.commands["copy_path"].trigger()
    assert QGuiApplication.clipboard().text() == window.photo_model.item(2).abs_path
    mime = window.photo_model.mimeData([window.photo_model.index(2)])
    assert [u.toLocalFile() for u in mime.urls()] == [window.photo_model.item(2).abs_path]

    # Folder filter: only that subtree remains, the chip says so, and × clears it.
    assert window.filters.set_folder("2020")
    paths = wait_results(qtbot, window, lambda ps: ps and all(p.startswith("2020/") for p in ps))
    assert len(paths) == 6
    assert any("Folder: 2020" in t for t in window.header.chips.texts())
    chip = next(c for c in window.header.chips.findChildren(QToolButton) if c.isVisible() and "Folder" in c.text())
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    paths = wait_results(qtbot, window, lambda ps: len(ps) == PHOTOS)
    assert window.filters.folder() == ""

    # Date range: summer 2019 keeps only the trip photos.
    window.filters.set_dates(date(2019, 6, 1), date(2019, 9, 30))
    paths = wait_results(qtbot, window, lambda ps: ps and all(p.startswith("2019/Trips/") for p in ps))
    assert len(paths) == 6
    assert any("2019-06-01 – 2019-09-30" in t for t in window.header.chips.texts())
    window.filters.clear_dates()
    wait_results(qtbot, window, lambda ps: len(ps) == PHOTOS)

    # Minimum score hides weak matches without searching again.
    best = window.photo_model.item(0).score
    window.filters.score_slider.setValue(int(best * 100))
    assert 1 <= window.photo_model.rowCount() < PHOTOS
    assert "hidden by the minimum score" in window.header.detail.text()
    window.filters.clear_min_score()
    assert window.photo_model.rowCount() == PHOTOS

    # Find similar searches with a library photo, which is left out of its own results.
    click_result(qtbot, window, 0)
    window.commands["find_similar"].trigger()
    paths = wait_results(qtbot, window, lambda ps: ps and "2019/Trips/trip3.jpg" not in ps)
    assert "2019/Trips/trip3.jpg" in window.header.title.text()
    assert len(paths) == PHOTOS - 1


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_update_index_finds_new_photo_and_lists_skipped(qtbot, library: Path, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, data_dir)
    window.library.open(library)
    wait_indexed(qtbot, window)

    new = _write(library / "2021" / "New" / "kite.jpg", _pattern(999))
    query = _near_copy(new, tmp_path / "kite-query.jpg")
    window.commands["update_index"].trigger()
    assert not window.commands["update_index"].isEnabled()  # one indexing run at a time
    wait_indexed(qtbot, window, PHOTOS + 1)
    assert window.commands["update_index"].isEnabled()
    assert "2021/New" in window.session.info.folders

    drop_files(window, query)
    paths = wait_results(qtbot, window)
    assert paths[0] == "2021/New/kite.jpg"

    window.commands["skipped_files"].trigger()
    dialog = window.library.skipped_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: bool(dialog.rows()), timeout=QUERY_TIMEOUT_MS)
    rows = dict(dialog.rows())
    assert list(rows) == ["broken.jpg"]
    assert rows["broken.jpg"].strip()
    assert dialog.table.item(0, 0).text() == "broken.jpg"
    assert "Skipped files (1)" in window.commands["skipped_files"].text()


BIG = 800  # photos: still indexing when the window closes, even at ~40 photos/s on an idle machine


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_close_while_indexing_is_clean(qtbot, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "Big"
    for i in range(BIG):
        _write(root / f"set{i % 3}" / f"p{i:03d}.jpg", _pattern(100 + i, (96, 96)))
    window = new_window(qtbot, data_dir)
    window.library.open(root)
    session = window.session
    qtbot.waitUntil(lambda: session.indexing and window.index_status.bar.value() > 0, timeout=INDEX_TIMEOUT_MS)
    assert "photos/s" in window.index_status.label.text() and window.index_status.cancel.isEnabled()

    # The window stays usable: searching works with what is indexed so far.
    indexing_at_results: list[bool] = []
    session.results_ready.connect(lambda *_: indexing_at_results.append(session.indexing))
    drop_files(window, _near_copy(root / "set0" / "p000.jpg", tmp_path / "q.jpg"))
    paths = wait_results(qtbot, window)
    assert paths[0] == "set0/p000.jpg"
    assert indexing_at_results == [True], "the query should have been answered during indexing"
    model_pid = session.library.embedder().pid  # the model runs in a process of its own

    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 20, "closing must not hang"
    assert window.clean_shutdown, "a worker thread did not stop in time"
    assert window.session is None
    assert not session._index_thread.isRunning() and not session._engine_thread.isRunning()
    with pytest.raises(ProcessLookupError):
        os.kill(model_pid, 0)  # the model process was stopped (and reaped) too

    from photosearch_desktop.engine.store.catalog import Catalog

    catalog = Catalog(app_dirs(data_dir).library_dir(root.resolve()) / "catalog.sqlite")
    try:
        assert catalog.consistency_problems() == []
        counts = catalog.counts()
        assert counts["indexed"] + counts["pending"] == BIG
        assert counts["pending"] > 0, "indexing should have been cancelled part-way"
        assert counts["indexed"] > 0, "photos done before the close stay indexed"
    finally:
        catalog.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.expect_log(
    r"^The model process stopped unexpectedly \(ended by signal 9",
    r"^indexing failed: The model process stopped unexpectedly \(ended by signal 9",
)
@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_model_process_killed_while_indexing_is_explained_and_recovers(qtbot, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The model runs in a process of its own: when that one dies (here: killed, as the system
    does when memory runs out) the window says so in plain words and stays usable, and Update
    index carries on with a new model process."""
    photos = 300
    root = tmp_path / "Killed"
    for i in range(photos):
        _write(root / f"p{i:03d}.jpg", _pattern(500 + i, (96, 96)))
    window = new_window(qtbot, data_dir)
    window.library.open(root)
    session = window.session
    qtbot.waitUntil(lambda: session.indexing and window.index_status.bar.value() > 0, timeout=INDEX_TIMEOUT_MS)
    os.kill(session.library.embedder().pid, signal.SIGKILL)

    qtbot.waitUntil(lambda: bool(message_boxes("errorMessage", window)), timeout=INDEX_TIMEOUT_MS)
    box = message_boxes("errorMessage", window)[0]
    assert box.windowTitle() == "The model stopped"
    assert "stopped unexpectedly" in box.text() and "Traceback" not in box.text()
    box.close()
    assert not session.indexing and window.commands["update_index"].isEnabled()

    window.commands["update_index"].trigger()
    wait_indexed(qtbot, window, photos=photos)
    assert not message_boxes("errorMessage", window)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_text_search_with_a_clip_model(qtbot, library: Path, data_dir: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    _name, checkpoint, config = tiny_clip  # conftest.py: random weights, the real CLIP code path
    # Named by its config file: the window's model process has not seen the test's registration.
    window = new_window(qtbot, data_dir, model=f"clip:{config}", weights=checkpoint)
    window.library.open(library)
    wait_indexed(qtbot, window)
    assert window.search_field.isEnabled()
    assert "words" in window.search_field.toolTip()

    window.filters.collapse_check.setChecked(False)  # random weights: every photo looks alike
    window.search_field.setFocus()
    qtbot.keyClicks(window.search_field, "red balloon")
    qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    paths = wait_results(qtbot, window)
    assert len(paths) == PHOTOS
    assert window.header.title.text() == "Photos matching “red balloon”"


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_open_paste_and_stale_results_are_dropped(qtbot, library: Path, data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, data_dir)
    window.library.open(library)
    wait_indexed(qtbot, window)

    # Ctrl+O opens an image to search with.
    query = _near_copy(library / "2020" / "Home" / "home4.jpg", tmp_path / "opened.jpg")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(query), "")))
    window.activateWindow()
    qtbot.keyClick(window.grid, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    paths = wait_results(qtbot, window)
    assert paths[0] == "2020/Home/home4.jpg" and "opened.jpg" in window.header.title.text()

    QGuiApplication.clipboard().setImage(QImage(str(library / "2020" / "Home" / "home2.jpg")))
    window.commands["paste_image"].trigger()
    paths = wait_results(qtbot, window)
    assert paths[0] == "2020/Home/home2.jpg"
    assert "pasted image" in window.header.title.text()

    # An older query that finishes after a newer one must not replace its results.
    before = result_paths(window)
    engine = window.session._engine
    fake = [window.photo_model.item(PHOTOS - 1)]
    engine.results_ready.emit(Ticket(0), fake, 0.01)  # a ticket older than every query
    qtbot.wait(50)
    assert result_paths(window) == before


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_settings_are_remembered(qtbot, library: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, data_dir)
    window.library.open(library)
    qtbot.waitUntil(lambda: window.info is not None, timeout=INDEX_TIMEOUT_MS)
    prefs = Preferences(library=str(library.resolve()), model=MODEL, device="cpu", results_count=30, thumb_size=128)
    window.library.apply_preferences(prefs, current_model=MODEL)
    assert window.grid.delegate.thumb_size == 128
    window.resize(780, 640)  # inside the offscreen screen, so restoring does not clamp it
    window.splitter.setSizes([220, 330, 220])
    size, splitter_sizes = window.size(), window.splitter.sizes()
    window.close()

    assert (app_dirs(data_dir).config / "settings.ini").is_file()
    again = new_window(qtbot, data_dir, model=None)
    assert again.prefs == prefs
    assert again.size() == size
    again.start(None)  # the last library opens again
    qtbot.waitUntil(lambda: again.info is not None, timeout=INDEX_TIMEOUT_MS)
    assert again.splitter.sizes() == splitter_sizes
    assert again.info.root == library.resolve()
    assert again.info.model_name == MODEL


def test_settings_dialog_describes_models(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(Preferences(results_count=90, thumb_size=200), "efficientnet-lite2")
    qtbot.addWidget(dialog)
    assert "No download needed" in dialog.model_note.text()
    assert "photo only" in dialog.model_note.text()
    dialog.model.setCurrentIndex(dialog.model.findData("clip-vit-b-32"))
    assert "605 MB" in dialog.model_note.text() and "words" in dialog.model_note.text()
    prefs = dialog.preferences()
    assert (prefs.model, prefs.results_count, prefs.thumb_size) == ("clip-vit-b-32", 90, 200)


@pytest.mark.expect_log(
    r"^model clip-vit-b-32 failed to load: The weights of clip-vit-b-32 .* could not be downloaded",
    r"^indexing failed: The weights of clip-vit-b-32 .* could not be downloaded",
)
@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_model_switch_is_confirmed_and_download_failure_is_explained(qtbot, library: Path, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, data_dir)
    window.library.open(library)
    wait_indexed(qtbot, window)
    asked: list[str] = []

    def answer(reply):  # type: ignore[no-untyped-def]
        return lambda _parent, _title, text, *a, **k: (asked.append(text), reply)[1]

    # Declined: nothing changes.
    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.StandardButton.No)))
    session = window.session
    window.library.apply_preferences(Preferences(library=str(library), model="clip-vit-b-32"), current_model=MODEL)
    assert asked and "indexes all 16 photos again" in asked[0]
    assert window.session is session and window.prefs.model == MODEL

    # Accepted: the library re-opens with CLIP, whose weights cannot be downloaded here.
    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.StandardButton.Yes)))
    window.library.apply_preferences(Preferences(library=str(library), model="clip-vit-b-32"), current_model=MODEL)
    qtbot.waitUntil(lambda: bool(message_boxes("errorMessage", window)), timeout=INDEX_TIMEOUT_MS)
    box = message_boxes("errorMessage", window)[0]
    assert box.windowTitle() == "The model could not be loaded"
    assert "could not be downloaded" in box.text() and "Traceback" not in box.text()
    qtbot.waitUntil(lambda: not window.session.indexing, timeout=INDEX_TIMEOUT_MS)
    assert len(message_boxes("errorMessage", window)) == 1  # warm-up and indexing failed alike: one dialog
    assert window.commands["update_index"].isEnabled()  # the app keeps working


@pytest.mark.expect_log(
    r"^could not open .*gone: The photo folder .*gone does not exist or is not a folder\.$",
)
def test_missing_folder_is_explained(qtbot, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, data_dir)
    window.library.open(tmp_path / "gone")
    qtbot.waitUntil(lambda: bool(message_boxes("errorMessage", window)), timeout=QUERY_TIMEOUT_MS)
    box = message_boxes("errorMessage", window)[0]
    assert "does not exist" in box.text()
    assert window.pages.currentIndex() == WELCOME_PAGE
    assert window.session is None


@pytest.mark.expect_log(
    r"^unexpected error:\n(?s:.*)ValueError: the flux capacitor is empty",
)
def test_unexpected_errors_become_a_plain_message(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reporter = ExceptionReporter(tmp_path / "app.log")
    try:
        raise ValueError("the flux capacitor is empty")
    except ValueError as exc:
        reporter.hook(ValueError, exc, exc.__traceback__)
    qtbot.waitUntil(lambda: bool(message_boxes("unexpectedError")))
    box = message_boxes("unexpectedError")[0]
    assert "flux capacitor" in box.text() and "app.log" in box.text()
    assert "Traceback" not in box.text()
    box.close()


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_open_show_in_folder_copy_and_find_similar_hand_the_photo_over(qtbot, library: Path, data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The actions that give a result to other apps, from a double-click and the context menu.
    Qt's URL handler for file:// stands in for the system viewer and file manager."""
    from PySide6.QtCore import QObject, QTimer, Slot
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QMenu

    from photosearch_desktop.ui import desktop

    class Desktop(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.opened: list[str] = []

        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            self.opened.append(url.toLocalFile())

    system = Desktop()
    QDesktopServices.setUrlHandler("file", system, "open")
    monkeypatch.setattr(desktop, "_freedesktop_show_items", lambda path: False)  # no D-Bus file manager
    menus: list[list[str]] = []

    def pick_from_menu() -> None:  # what a person does in the popup: choose "Show in folder"
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(20, pick_from_menu)
            return
        menus.append([a.text() for a in menu.actions()])
        chosen = next(a for a in menu.actions() if a.text() == "Show in folder")
        menu.close()
        chosen.trigger()

    try:
        window = new_window(qtbot, data_dir)
        window.library.open(library)
        wait_indexed(qtbot, window)
        window.filters.collapse_check.setChecked(False)
        drop_files(window, _near_copy(library / "2019" / "Trips" / "trip3.jpg", tmp_path / "q.jpg"))
        wait_results(qtbot, window)
        first = window.photo_model.item(0)
        target = library / first.photo.rel_path

        index = window.photo_model.index(0)
        click_result(qtbot, window, 0)  # a double-click is a press, a release, then the second press
        qtbot.mouseDClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=window.grid.visualRect(index).center())
        assert system.opened == [str(target)]

        QTimer.singleShot(20, pick_from_menu)
        window.grid.customContextMenuRequested.emit(window.grid.visualRect(index).center())
        assert menus == [
            [
                "Open", "Show in folder", "Copy path", "Find similar", "",
                "Find similar to these", "Add to search", "Not like this", "", "Export results…",
            ]
        ]
        assert system.opened[-1] == str(target.parent)

        window.commands["copy_path"].trigger()
        assert QGuiApplication.clipboard().text() == str(target)

        window.commands["find_similar"].trigger()  # searches again with that photo
        qtbot.waitUntil(lambda: first.photo.rel_path.split("/")[-1] in window.header.title.text(), timeout=QUERY_TIMEOUT_MS)
        paths = wait_results(qtbot, window)
        assert first.photo.rel_path not in paths  # the query photo itself is left out
    finally:
        QDesktopServices.unsetUrlHandler("file")
