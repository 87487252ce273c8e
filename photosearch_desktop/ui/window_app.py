"""The window's process: logging, the last-resort exception report, the single-instance
server, then the main window (``ui/app.py`` checks first that Qt can start at all).

Only Qt and a few light modules are imported before the window is shown; numpy, faiss and the
engine are imported by worker threads afterwards, and the model (torch) runs in a process of
its own (engine/models/process.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from .. import __version__
from ..engine.library import WithoutImageData, app_dirs, keep_private, log_file_handler, start_model_process_early
from .desktop_entry import APP_ID
from .errors import describe_error
from .heavy_imports import freeze_long_lived
from .single_instance import InstanceServer, hand_over, server_name

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger("photosearch.ui")


def setup_logging(log_dir: Path, verbose: bool) -> Path | None:
    """Log to stderr (where there is one) and to a rotating, owner-only file in ``log_dir``;
    never image data."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if sys.stderr is not None:  # None under the Windows GUI launcher (pythonw): the log file only
        console = logging.StreamHandler()
        console.setLevel(logging.INFO if verbose else logging.WARNING)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        console.addFilter(WithoutImageData())
        root.addHandler(console)
    try:
        path = log_dir / "photosearch-desktop.log"
        handler = log_file_handler(path)
    except OSError as exc:
        log.warning("no log file: %s", exc)
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path


class ExceptionReporter(QObject):
    """The last line of defence: an unexpected exception anywhere is logged with its
    traceback and shown as a plain message; the app keeps running.

    ``sys.excepthook`` may be called on a worker thread (PySide reports exceptions raised in
    slots that way), so the dialog is shown through a queued signal on the GUI thread.
    """

    _report = Signal(str, str)

    def __init__(self, log_path: Path | None) -> None:
        super().__init__()
        self.log_path = log_path
        self._boxes: set[QMessageBox] = set()  # a box without a parent needs a Python owner
        self._report.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        sys.excepthook = self.hook
        threading.excepthook = lambda args: self.hook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    def hook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(kind, exc, tb)))
        message = describe_error(exc, str(self.log_path) if self.log_path else None)
        self._report.emit(message.title, message.text + "\n\nPhotoSearch keeps running; if something looks "
                          "wrong, restart it.")

    def _show(self, title: str, text: str) -> None:
        parent = QApplication.activeWindow()
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, parent)
        box.setObjectName("unexpectedError")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._boxes.add(box)
        box.finished.connect(lambda _: self._boxes.discard(box))
        box.open()


class _FirstPaint(QObject):
    """For ``PHOTOSEARCH_STARTUP_PROBE``: prints the wall-clock time of the window's first
    paint, then closes the window (``scripts/bench_gui.py`` measures the launch time)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and isinstance(obj, QWidget):
            print(f"window-painted {time.time():.6f}", flush=True)
            obj.removeEventFilter(self)
            QTimer.singleShot(0, obj.close)  # after this paint is flushed; closes cleanly
        return False


def bring_to_front(window: MainWindow, library: Path | None) -> None:
    """Another start asked for the window (and perhaps for a folder): show it on top, and open
    that folder unless it is the library shown already."""
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()
    if library is None:
        return
    session = window.library.session
    if session is None or session.request.root.resolve() != library.resolve():
        window.library.open(library)


def run(args: argparse.Namespace) -> int:
    """Starts the window for the parsed command line, or hands ``args.library`` to the window
    already running for this user and data folder (exit 0 then)."""
    dirs = app_dirs(args.data_dir)
    QApplication.setApplicationName("PhotoSearch")
    QApplication.setOrganizationName("PhotoSearch")
    QApplication.setApplicationVersion(__version__)
    QApplication.setDesktopFileName(APP_ID)  # Wayland matches the window to its launcher entry by it
    app = QApplication(sys.argv[:1])
    name = server_name(dirs.data)
    if hand_over(name, args.library):
        if sys.stderr is not None:  # None under pythonw
            print("PhotoSearch is running already: its window was brought to the front.", file=sys.stderr)
        return 0

    start_model_process_early()  # it starts Python and its imports while the window builds itself
    log_path = setup_logging(dirs.logs, args.verbose)
    keep_private(dirs)  # after the log is set up: it says what it tightened
    from .app_icon import app_icon

    app.setWindowIcon(app_icon())
    reporter = ExceptionReporter(log_path)
    reporter.install()

    from .main_window import MainWindow
    from .settings import AppSettings

    window = MainWindow(AppSettings(dirs.config), data_dir=args.data_dir, model=args.model, weights=args.weights)
    freeze_long_lived()
    instance = InstanceServer(name, lambda library: bring_to_front(window, library))
    probe = None
    if os.environ.get("PHOTOSEARCH_STARTUP_PROBE"):
        probe = _FirstPaint()
        window.installEventFilter(probe)
    window.show()
    window.start(args.library.expanduser() if args.library else None)
    code = app.exec()
    instance.close()
    if not window.clean_shutdown:
        # A worker thread is stuck in a call that cannot be interrupted (a model download);
        # the catalog is consistent at every commit, so ending the process now loses nothing.
        logging.shutdown()
        os._exit(code)
    return code
