"""The window keeps what it writes readable by its owner alone, with the usual umask 022: the
catalog and vector cache (indexing), the thumbnail cache (browsing), the settings and the log
file; and a start on an install of the previous version (files 0644 in folders 0755) tightens it,
saying so in one log line (efficientnet-lite2, a small generated library)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from childproc import child_env
from hubcache import B32_REPO, cache_weights
from privacy import all_paths, loose_paths, loosen, posix_only, umask
from PySide6.QtCore import Qt
from test_gui import INDEX_TIMEOUT_MS, _near_copy, drop_files, make_library, new_window, wait_indexed, wait_results

from photosearch_desktop.engine.library import app_dirs
from photosearch_desktop.ui.library_controller import LibraryController
from photosearch_desktop.ui.main_window import MainWindow
from photosearch_desktop.ui.window_app import setup_logging

pytestmark = posix_only


@dataclass
class Session:
    """What the writers below share: the window, its library, and a folder for queries."""

    qtbot: object
    window: MainWindow
    library: Path
    scratch: Path


def index(s: Session) -> None:
    s.window.library.open(s.library)
    wait_indexed(s.qtbot, s.window)


def search(s: Session) -> None:
    query = _near_copy(s.library / "2019" / "Trips" / "trip2.jpg", s.scratch / "query.jpg")
    drop_files(s.window, query)
    wait_results(s.qtbot, s.window)


def browse(s: Session) -> None:
    """The grid shows the results: their thumbnails are made and cached on disk."""
    cache = app_dirs(s.window.data_dir).thumbnails
    s.window.grid.viewport().grab()
    s.qtbot.waitUntil(lambda: cache.is_dir() and len(list(cache.rglob("*.jpg"))) >= 3, timeout=INDEX_TIMEOUT_MS)


def change_a_setting(s: Session) -> None:
    prefs = replace(s.window.prefs, thumb_size=128, results_count=30)
    s.window.library.apply_preferences(prefs, current_model=s.window.info.model_name)
    assert "thumb_size=128" in (app_dirs(s.window.data_dir).config / "settings.ini").read_text()


def write_the_log(s: Session) -> None:
    """What ui/app.py sets up before the window: the log file, written through a rotation."""
    root = logging.getLogger()
    before = list(root.handlers)
    setup_logging(app_dirs(s.window.data_dir).logs, verbose=False)
    added = [h for h in root.handlers if h not in before]
    try:
        for _ in range(2):
            logging.getLogger("photosearch.ui").info("a line for the log file")
            file_handler = next(h for h in added if isinstance(h, logging.FileHandler))
            file_handler.doRollover()  # type: ignore[attr-defined]
    finally:
        for handler in added:
            root.removeHandler(handler)
            handler.close()


# Everything the window writes, in the order a person meets it. A new writer (saved searches,
# exported models...) is one more entry here: the test then checks what it wrote too.
WRITERS: tuple[tuple[str, Callable[[Session], None]], ...] = (
    ("log file", write_the_log),
    ("index", index),
    ("search", search),
    ("browse (thumbnails)", browse),
    ("change a setting", change_a_setting),
)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_everything_the_window_writes_is_owner_only(qtbot, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    library = make_library(tmp_path / "Photos")
    (tmp_path / "scratch").mkdir()
    loose: dict[str, list[str]] = {}
    seen: set[Path] = set()
    with umask(0o022):
        window = new_window(qtbot, data_dir)  # its settings file is made here
        session = Session(qtbot, window, library, tmp_path / "scratch")
        for name, write in (("open the window", lambda s: None), *WRITERS):
            write(session)
            new = [p for p in all_paths(data_dir) if p not in seen]
            seen.update(new)
            if found := loose_paths(new):
                loose[name] = found
        window.close()
    dirs = app_dirs(data_dir)
    made = {p.relative_to(data_dir).parts[0] for p in seen if p != data_dir}
    assert made >= {"libraries", "cache", "config", "logs"}, made
    assert (dirs.logs / "photosearch-desktop.log.2").exists() and list(dirs.thumbnails.rglob("*.jpg"))
    assert loose == {}, loose
    assert loose_paths(data_dir) == []  # (the data folder itself was made by the app here, owner-only)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_a_start_tightens_an_install_of_the_previous_version_in_one_log_line(
    qtbot, data_dir: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    (tmp_path / "scratch").mkdir()
    window = new_window(qtbot, data_dir)
    session = Session(qtbot, window, make_library(tmp_path / "Photos"), tmp_path / "scratch")
    for _, write in WRITERS:
        write(session)
    window.close()
    dirs = app_dirs(data_dir)
    loosen(data_dir)
    assert len(loose_paths(data_dir)) > 10

    # The real start (ui/app.py main), which paints the window once and closes it.
    env = child_env(PHOTOSEARCH_STARTUP_PROBE="1", QT_QPA_PLATFORM="offscreen")
    code = "import sys; from photosearch_desktop.ui.app import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, "--data-dir", str(data_dir)], env=env, capture_output=True,
                          text=True, timeout=120, umask=0o022)
    assert done.returncode == 0, done.stderr
    assert "window-painted" in done.stdout
    log = (dirs.logs / "photosearch-desktop.log").read_text()
    lines = [line for line in log.splitlines() if "readable by their owner alone" in line]
    assert len(lines) == 1, lines
    assert [loose_paths(folder) for folder in dirs.own_folders()] == [[]] * 4
    assert os.stat(data_dir).st_mode & 0o077  # the data folder, chosen here, is left as it is


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_the_window_offers_to_download_refused_weights_again(qtbot, data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the model's process: nothing can be downloaded here
    cache_weights(app_dirs(data_dir).models, B32_REPO, "open_clip_model.safetensors", os.urandom(4096))
    library = make_library(tmp_path / "Photos")
    opened: list[bool] = []
    real_open = LibraryController.open

    def recording_open(self, root, model=None, redownload_weights=False):  # type: ignore[no-untyped-def]
        opened.append(redownload_weights)
        real_open(self, root, model, redownload_weights)

    monkeypatch.setattr(LibraryController, "open", recording_open)
    window = new_window(qtbot, data_dir, model="clip-vit-b-32")
    window.library.open(library)
    qtbot.waitUntil(lambda: bool(boxes(window)), timeout=INDEX_TIMEOUT_MS)
    box = boxes(window)[0]
    assert "does not match the sha256 its publisher lists" in box.text() and "Download again" in box.text()
    remedy = next(b for b in box.buttons() if b.objectName() == "remedy")
    qtbot.mouseClick(remedy, Qt.MouseButton.LeftButton)
    assert opened == [False, True]  # the library opens again, asking for a new download
    # Offline, the new download fails too; this library was never indexed, so the message
    # offers the built-in model (see test_browse_and_queries).
    qtbot.waitUntil(lambda: any("could not be downloaded" in b.text() for b in boxes(window, "modelFailed")),
                    timeout=INDEX_TIMEOUT_MS)


def boxes(window: MainWindow, name: str = "errorMessage") -> list:  # type: ignore[type-arg]
    from test_gui import message_boxes

    return message_boxes(name, window)


@pytest.fixture(autouse=True)
def _quiet_root_logger() -> None:
    """setup_logging sets the root logger's level; the other tests expect it untouched."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)
