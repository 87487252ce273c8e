"""Render the window offscreen with a sample library and save PNG screenshots.

    python scripts/screenshots.py [--library DIR] [--skipped-library DIR] [--out DIR]

Default library: the shared development photos (``/work/shared/data/library-dev/photos``)
when present, else a generated one in a temporary folder. The app's data (index,
thumbnails, settings) goes to a temporary folder too; nothing is written into a library.
Images are saved small (palette PNG, < 300 KB) so they can live in the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtGui import QFont, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

SHARED_LIBRARY = Path("/work/shared/data/library-dev/photos")
SHARED_MESSY = Path("/work/shared/data/messy-dev/files")
MAX_BYTES = 300_000
WINDOW_SIZE = (1360, 860)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the event loop until ``condition`` holds (checked every 50 ms)."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    timer.start(50)
    if not condition():
        loop.exec()
    timer.stop()
    if not condition():
        raise SystemExit(f"timed out waiting for {what}")


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, path: Path) -> None:
    """Grab ``widget`` and store it as a compact PNG (adaptive palette, then smaller if needed)."""
    qimage = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    raw = bytes(qimage.constBits())[: qimage.bytesPerLine() * qimage.height()]
    image = Image.frombuffer("RGB", (qimage.width(), qimage.height()), raw, "raw", "RGB", qimage.bytesPerLine(), 1)
    scale = 1.0
    while True:
        shot = image if scale == 1.0 else image.resize(
            (int(image.width * scale), int(image.height * scale)), Image.Resampling.LANCZOS)
        shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            path, "PNG", optimize=True)
        if path.stat().st_size <= MAX_BYTES or scale < 0.5:
            break
        scale -= 0.1
    print(f"{path}  {shot.width}x{shot.height}  {path.stat().st_size // 1024} KB")


def generated_library(root: Path) -> Path:
    sys.path[:0] = [str(REPO / "tests" / "gui"), str(REPO / "tests" / "helpers")]
    from test_gui import make_library  # the same sample library the GUI tests use

    return make_library(root)


def pick_query(library: Path) -> Path:
    for candidate in ("skimage/motorcycle_left.png", "2019/Trips/trip3.jpg"):
        if (library / candidate).is_file():
            return library / candidate
    return next(p for p in sorted(library.rglob("*.jpg")))


def visible_thumbnails_ready(window) -> bool:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    grid, model = window.grid, window.photo_model
    area = grid.viewport().rect()
    rows = [r for r in range(model.rowCount()) if grid.visualRect(model.index(r)).intersects(area)]
    return bool(rows) and all(
        model.data(model.index(r), Qt.ItemDataRole.DecorationRole) is not None
        or model.data(model.index(r), Qt.ItemDataRole.UserRole + 3)
        for r in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, help="photo folder to show (read only)")
    parser.add_argument("--skipped-library", type=Path, help="folder with broken files for the skipped-files shot")
    parser.add_argument("--out", type=Path, default=REPO / "assets")
    parser.add_argument("--model", default="efficientnet-lite2")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    work = Path(tempfile.mkdtemp(prefix="photosearch-shots-"))
    library = args.library or (SHARED_LIBRARY if SHARED_LIBRARY.is_dir() else generated_library(work / "Photos"))
    data_dir = work / "appdata"
    os.environ["PHOTOSEARCH_DATA_DIR"] = str(data_dir)

    app = QApplication(sys.argv[:1])
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 9.5))
    app.setFont(font)
    from photosearch_desktop.engine.system.paths import app_dirs
    from photosearch_desktop.ui.main_window import MainWindow
    from photosearch_desktop.ui.queries import file_query
    from photosearch_desktop.ui.settings import AppSettings

    window = MainWindow(AppSettings(app_dirs(data_dir).config), data_dir=data_dir, model=args.model)
    window.resize(*WINDOW_SIZE)
    window.show()
    settle()
    save(window, args.out / "screenshot-welcome.png")

    window.library.open(library)
    wait_until(lambda: window.session is not None and window.session.indexing
               and window.index_status.bar.maximum() > 0 and window.index_status.bar.value() > 0, 300,
               "indexing progress")
    save(window, args.out / "screenshot-indexing.png")
    wait_until(lambda: window.info is not None and not window.session.indexing, 900, "indexing to finish")
    wait_until(lambda: window.photo_model.rowCount() > 0 and visible_thumbnails_ready(window), 120, "browsing")
    settle()
    save(window, args.out / "screenshot-browse.png")

    query = pick_query(library)
    window.search.run(file_query([query]))
    # The browsing grid stays until the results replace it.
    wait_until(lambda: not window.photo_model.browsing and window.photo_model.rowCount() > 0, 120, "results")
    wait_until(lambda: visible_thumbnails_ready(window), 120, "thumbnails")
    window.grid.setCurrentIndex(window.photo_model.index(0))
    wait_until(window.preview.photo.has_image, 60, "the preview")
    settle()
    save(window, args.out / "screenshot-main.png")
    save(window.preview, args.out / "screenshot-preview.png")

    # Several photos at once, then "not like this" one of the results: the terms show as chips.
    from PySide6.QtCore import QItemSelectionModel

    selection = window.grid.selectionModel()
    for row in (0, 1):
        selection.select(window.photo_model.index(row), QItemSelectionModel.SelectionFlag.Select)
    window.search.find_similar_to_selection()
    wait_until(lambda: window.header.detail.text() != "Searching…" and window.photo_model.rowCount() > 2, 60, "results")
    selection.select(window.photo_model.index(2), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    window.search.add_selection(-1.0)
    wait_until(lambda: window.header.detail.text() != "Searching…", 60, "refined results")
    wait_until(lambda: visible_thumbnails_ready(window), 120, "thumbnails")
    settle()
    save(window, args.out / "screenshot-refine.png")
    window.search.back_to_browsing()
    window.search.run(file_query([query]))
    wait_until(lambda: window.header.detail.text() != "Searching…" and window.photo_model.rowCount() > 0, 60, "results")

    # Filters: a folder and a date range, shown as chips above the grid.
    folders = window.info.folders if window.info else []
    if folders:
        window.filters.set_folder(next((f for f in ("photoprism", "2019") if f in folders), folders[0]))
    wait_until(lambda: window.header.detail.text() != "Searching…", 60, "filtered results")
    wait_until(lambda: visible_thumbnails_ready(window) or window.photo_model.rowCount() == 0, 120, "thumbnails")
    settle()
    save(window, args.out / "screenshot-filters.png")

    skipped_library = args.skipped_library or (SHARED_MESSY if SHARED_MESSY.is_dir() else None)
    if skipped_library is None:
        skipped_library = library if args.library else generated_library(work / "Generated")
    if skipped_library != library:
        window.library.open(skipped_library)
        wait_until(lambda: window.info is not None and window.session is not None and not window.session.indexing,
                   900, "indexing of the skipped-files library")
    window.library.show_skipped()
    dialog = window.library.skipped_dialog
    assert dialog is not None
    wait_until(lambda: dialog.summary.text() != "Loading…", 60, "the skipped files")
    dialog.resize(900, 460)
    settle()
    save(dialog, args.out / "screenshot-skipped.png")

    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
