"""Grid thumbnails: made on a thread pool, cached on disk and in memory.

The disk cache lives in ``lib.dirs.thumbnails`` (never in the photo library). A cached file's
name is a hash of the photo's place, its byte size, its modification time and the thumbnail
size, so it stays valid exactly as long as the photo file is unchanged. A library photo's
place is the library's id and the photo's path inside it, not its absolute path: a library
that moved to another folder or drive letter (and was relinked) keeps its thumbnails. The
``stat`` that builds the name runs in the worker, never while painting. A cached file's mtime
records its last use; past ``DISK_CACHE_MAX_BYTES`` the least recently used go first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPainterPath, QPixmap

from ..engine.library import private_dir
from .imaging import load_for_display, pil_to_qimage
from .tasks import BackgroundCalls

log = logging.getLogger(__name__)

MEMORY_CACHE_ITEMS = 600  # ~45 MB of 160 px thumbnails: a dozen screens; the disk cache has the rest
DISK_CACHE_MAX_BYTES = 1 << 30  # per library: ~70,000 thumbnails of 160 px
DISK_CACHE_TRIM_TO = 0.8  # of the maximum, so that trimming is rare
STALE_PART_SECONDS = 3600  # a half-written file this old was left by a crash
TRIM_PRIORITY = -(1 << 30)  # the disk cache's trim waits for every other call on its pool
# The trim lists every cached file (a directory listing per key prefix, a stat per file), so
# it waits this long after a library opens: the first screen, the first query and the index
# run come first. Started at once, it was the one other thread running Python in the
# slowest moment of a launch (sampled right after the library opened, 75 thumbnails cached).
TRIM_DELAY_MS = 60_000


@dataclass(frozen=True)
class LibraryPlace:
    """Where a library is now, and its id, which stays when it moves."""

    root: Path
    library_id: str


def disk_key(path: Path, side: int, library: LibraryPlace | None = None) -> str:
    st = path.stat()
    place = str(path)
    if library is not None and library.library_id and path.is_relative_to(library.root):
        place = f"{library.library_id}:{path.relative_to(library.root).as_posix()}"
    raw = f"{place}\0{st.st_size}\0{st.st_mtime_ns}\0{side}"
    return hashlib.sha1(raw.encode("utf-8", "surrogateescape")).hexdigest()


def make_thumbnail(path: Path, side: int, cache_dir: Path, library: LibraryPlace | None = None) -> QImage:
    """Read the thumbnail from the disk cache, or make and store it. Runs in a worker."""
    key = disk_key(path, side, library)
    cached = cache_dir / key[:2] / f"{key}.jpg"
    if cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            try:
                os.utime(cached)  # last use, for trim_disk_cache
            except OSError:
                pass
            return image
    pil, _ = load_for_display(path, side)
    try:
        private_dir(cached.parent)
        # A small copy of a private photo: owner-only (mkstemp's 0600) from its first byte.
        fd, partial = tempfile.mkstemp(prefix=f"{key}.", suffix=".part", dir=cached.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                pil.save(fh, "JPEG", quality=88)
            os.replace(partial, cached)  # atomic: another window never sees half a file
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    except OSError as exc:
        # A full or read-only cache only costs speed: the thumbnail is still shown.
        log.warning("could not cache the thumbnail of %s: %s", path, exc)
    return pil_to_qimage(pil)


def rounded(image: QImage, radius: float = 3.0) -> QImage:
    """The picture with rounded corners, ready to blit (premultiplied alpha): shaped here, in a
    worker, rather than clipped at every paint, which cost ~0.3 ms a cell on the GUI thread."""
    out = QImage(image.size(), QImage.Format.Format_ARGB32_Premultiplied)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(QRectF(out.rect()), radius, radius)
    painter.setClipPath(path)
    painter.drawImage(0, 0, image)
    painter.end()
    return out


def trim_disk_cache(cache_dir: Path, max_bytes: int = DISK_CACHE_MAX_BYTES) -> int:
    """Once the cache holds more than ``max_bytes``, delete the least recently used thumbnails
    down to ``DISK_CACHE_TRIM_TO`` of it (and half-written files left by a crash). Returns
    the bytes freed. Runs in a worker: it lists every cached file."""
    entries: list[tuple[float, int, str]] = []
    freed = 0
    now = time.time()
    try:
        folders = [e.path for e in os.scandir(cache_dir) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    for folder in folders:
        try:
            files = list(os.scandir(folder))
        except OSError:
            continue
        for entry in files:
            try:
                st = entry.stat(follow_symlinks=False)
                if entry.name.endswith(".part"):
                    if now - st.st_mtime > STALE_PART_SECONDS:
                        os.unlink(entry.path)
                        freed += st.st_size
                    continue
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    if total <= max_bytes:
        return freed
    entries.sort()
    excess = total - int(DISK_CACHE_TRIM_TO * max_bytes)
    for _, size, path in entries:
        if excess <= 0:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        excess -= size
        freed += size
    log.info("trimmed the thumbnail cache %s: %.0f MB freed", cache_dir, freed / 1e6)
    return freed


class ThumbnailCache(QObject):
    """Pixmaps by (path, size); ``ready(path)`` fires when one was added. Thumbnails are made
    on the open library's session (:meth:`attach`); with no library attached nothing is made."""

    ready = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache_dir: Path | None = None
        self.library: LibraryPlace | None = None
        self._calls: BackgroundCalls | None = None
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._failed: set[tuple[str, int]] = set()
        self._housekeeping: BackgroundCalls | None = None
        self._trim = QTimer(self)
        self._trim.setSingleShot(True)
        self._trim.timeout.connect(self._start_trim)
        self._priority = 0  # of the last request: newer ones go first
        self._requests = 0  # request() calls: a later one supersedes the deferred part of earlier ones
        # Paths still wanted (None: all): a request for another path is dropped when its turn
        # comes, so a fast scroll through a big library does not leave a backlog behind it.
        self._wanted: frozenset[str] | None = None

    def attach(
        self, calls: BackgroundCalls, cache_dir: Path, library: LibraryPlace | None, housekeeping: BackgroundCalls
    ) -> None:
        """Make thumbnails with ``calls`` into the disk cache, trimmed with ``housekeeping`` (off
        the thumbnails' pool) TRIM_DELAY_MS later if it grew too big; ``library``'s photos are
        keyed by their place in it."""
        self.detach()
        self._calls, self.cache_dir, self.library = calls, cache_dir, library
        self._housekeeping = housekeeping
        self._trim.start(TRIM_DELAY_MS)

    def detach(self) -> None:
        """The library closed: forget its thumbnails and stop making them."""
        self.forget()
        self._trim.stop()
        self._calls, self.cache_dir, self.library, self._housekeeping = None, None, None, None

    def _start_trim(self) -> None:
        cache_dir, housekeeping = self.cache_dir, self._housekeeping
        if cache_dir is not None and housekeeping is not None:
            housekeeping.submit(lambda: trim_disk_cache(cache_dir), lambda _: None, priority=TRIM_PRIORITY)

    def pixmap(self, path: str, side: int) -> QPixmap | None:
        """The thumbnail if it is ready; otherwise asks for it and returns None."""
        key = (path, side)
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        # Newest requests first: what is on screen now beats what scrolled past.
        self._priority += 1
        self._ask(key, self._priority)
        return None

    def request(self, paths: Sequence[str], side: int, urgent: int) -> None:
        """Ask for the thumbnails of ``paths`` that are not ready, the first most urgent: the
        first ``urgent`` (what is on screen) now, the rest (the margin around it) on the next
        turn of the event loop, unless another request came first. A scroll step's burst of
        requests (~60 microseconds each on the GUI thread) is split in two, and a fast scroll
        asks for no margin it has already left behind."""
        top = self._priority + len(paths)
        self._priority = top
        self._requests += 1
        for rank, path in enumerate(paths[:urgent]):
            self._ask_unless_ready((path, side), top - rank)
        rest, request = list(paths[urgent:]), self._requests
        if rest:
            QTimer.singleShot(0, self, lambda: self._ask_rest(request, rest, side, top - urgent))

    def _ask_rest(self, request: int, paths: list[str], side: int, top: int) -> None:
        if request == self._requests:
            for rank, path in enumerate(paths):
                self._ask_unless_ready((path, side), top - rank)

    def _ask_unless_ready(self, key: tuple[str, int], priority: int) -> None:
        if key in self._pixmaps:
            self._pixmaps.move_to_end(key)
        else:
            self._ask(key, priority)

    def _ask(self, key: tuple[str, int], priority: int) -> None:
        path, side = key
        calls, cache_dir, library = self._calls, self.cache_dir, self.library
        if calls is not None and cache_dir is not None and key not in self._pending and key not in self._failed:
            self._pending.add(key)
            calls.submit(
                lambda: self._make(path, side, cache_dir, library),
                lambda image: self._store(key, image),
                lambda exc: self._fail(key, exc),
                priority=priority,
            )

    def focus(self, paths: set[str]) -> None:
        """Only these paths are on (or near) the screen now."""
        self._wanted = frozenset(paths)

    def _make(self, path: str, side: int, cache_dir: Path, library: LibraryPlace | None) -> QImage | None:
        """Runs in a worker; None when the photo scrolled far away before its turn came."""
        wanted = self._wanted
        if wanted is not None and path not in wanted:
            return None
        return rounded(make_thumbnail(Path(path), side, cache_dir, library))

    def failed(self, path: str, side: int) -> bool:
        return (path, side) in self._failed

    def cancel_pending(self) -> None:
        """Forget queued requests (the grid shows other photos now)."""
        if self._calls is not None:
            self._calls.cancel_all()
        self._pending.clear()

    def forget(self) -> None:
        """Drop the memory cache, e.g. after re-indexing (files may have changed)."""
        self.cancel_pending()
        self._wanted = None
        self._pixmaps.clear()
        self._failed.clear()

    def _store(self, key: tuple[str, int], image: QImage | None) -> None:
        self._pending.discard(key)
        if image is None:
            return  # not made: asked for again if it comes back on screen
        self._pixmaps[key] = QPixmap.fromImage(image)
        while len(self._pixmaps) > MEMORY_CACHE_ITEMS:
            self._pixmaps.popitem(last=False)
        self.ready.emit(key[0])

    def _fail(self, key: tuple[str, int], exc: BaseException) -> None:
        self._pending.discard(key)
        self._failed.add(key)
        log.info("no thumbnail for %s: %s", key[0], exc)
        self.ready.emit(key[0])
