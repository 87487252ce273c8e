"""Grid thumbnails: made on a thread pool, cached on disk and in memory.

The disk cache lives in ``lib.dirs.thumbnails`` (never in the photo library). A cached file's
name is a hash of the photo's absolute path, its byte size, its modification time and the
thumbnail size, so it stays valid exactly as long as the photo file is unchanged. The
``stat`` that builds the name runs in the worker, never while painting.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from .imaging import load_for_display, pil_to_qimage
from .tasks import BackgroundCalls

log = logging.getLogger(__name__)

MEMORY_CACHE_ITEMS = 1500  # ~100 MB of 160 px thumbnails


def disk_key(path: Path, side: int) -> str:
    st = path.stat()
    raw = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{side}"
    return hashlib.sha1(raw.encode("utf-8", "surrogateescape")).hexdigest()


def make_thumbnail(path: Path, side: int, cache_dir: Path) -> QImage:
    """Read the thumbnail from the disk cache, or make and store it. Runs in a worker."""
    key = disk_key(path, side)
    cached = cache_dir / key[:2] / f"{key}.jpg"
    if cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    pil, _ = load_for_display(path, side)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        pil.save(partial, "JPEG", quality=88)
        os.replace(partial, cached)  # atomic: another window never sees half a file
    except OSError as exc:
        # A full or read-only cache only costs speed: the thumbnail is still shown.
        log.warning("could not cache the thumbnail of %s: %s", path, exc)
    return pil_to_qimage(pil)


class ThumbnailCache(QObject):
    """Pixmaps by (path, size); ``ready(path)`` fires when one was added."""

    ready = Signal(str)

    def __init__(self, cache_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        threads = max(2, QThreadPool.globalInstance().maxThreadCount() // 2)
        self._calls = BackgroundCalls(threads, self)
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._failed: set[tuple[str, int]] = set()
        self._priority = 0

    def pixmap(self, path: str, side: int) -> QPixmap | None:
        """The thumbnail if it is ready; otherwise asks for it and returns None."""
        key = (path, side)
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        if key not in self._pending and key not in self._failed:
            self._pending.add(key)
            # Newest requests first: what is on screen now beats what scrolled past.
            self._priority += 1
            self._calls.submit(
                lambda: make_thumbnail(Path(path), side, self.cache_dir),
                lambda image: self._store(key, image),
                lambda exc: self._fail(key, exc),
                priority=self._priority,
            )
        return None

    def failed(self, path: str, side: int) -> bool:
        return (path, side) in self._failed

    def cancel_pending(self) -> None:
        """Forget queued requests (the grid shows other photos now)."""
        self._calls.cancel_all()
        self._pending.clear()

    def forget(self) -> None:
        """Drop the memory cache, e.g. after re-indexing (files may have changed)."""
        self.cancel_pending()
        self._pixmaps.clear()
        self._failed.clear()

    def shutdown(self, timeout_ms: int = 3000) -> None:
        self._pending.clear()
        self._calls.shutdown(timeout_ms)

    def _store(self, key: tuple[str, int], image: QImage) -> None:
        self._pending.discard(key)
        self._pixmaps[key] = QPixmap.fromImage(image)
        while len(self._pixmaps) > MEMORY_CACHE_ITEMS:
            self._pixmaps.popitem(last=False)
        self.ready.emit(key[0])

    def _fail(self, key: tuple[str, int], exc: BaseException) -> None:
        self._pending.discard(key)
        self._failed.add(key)
        log.info("no thumbnail for %s: %s", key[0], exc)
        self.ready.emit(key[0])
