"""One writer per library: a second indexer (another window, the CLI) is told it is busy; and
files that several processes rewrite (the vector cache) read and written whole, one at a time."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO

from ..errors import Action, LibraryBusy, hint
from .private_files import open_private, private_dir

log = logging.getLogger(__name__)


class WriterLock:
    """An advisory lock on a file in the library's data folder, released even on a crash
    (the OS drops it with the process), so a killed indexer never leaves the library locked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def __enter__(self) -> WriterLock:
        private_dir(self.path.parent)
        fh = open_private(self.path, "a+")
        try:
            _lock(fh)
        except OSError:
            fh.close()
            raise LibraryBusy(
                "Another PhotoSearch window or command is updating this library right now.", hint(Action.WAIT)
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fh is not None:
            _unlock(self._fh)
            self._fh.close()
            self._fh = None


@contextmanager
def files_locked(lock_path: Path, shared: bool = False) -> Iterator[None]:
    """Wait for, then hold, an advisory lock on ``lock_path`` (made owner-only) while inside:
    ``shared`` for readers (several at once where the OS allows it: not on Windows, where a
    reader waits for another reader too), exclusive for a writer. For a group of files that
    other processes rewrite: a window's search and the command line's indexing both save the
    vector cache (three files), and a save that ran between another's two files, or a read
    that did, left a cache whose checksum failed (rebuilt from the catalog: seconds at 100k).
    Where the lock file cannot be made (a read-only data folder) nobody writes: no lock."""
    try:
        fh = open_private(lock_path, "a+")
    except OSError as exc:
        log.debug("no lock %s: %s", lock_path, exc)
        yield
        return
    try:
        _lock(fh, shared=shared, wait=True)
        try:
            yield
        finally:
            _unlock(fh)
    finally:
        fh.close()


if sys.platform == "win32":
    import msvcrt

    def _lock(fh: IO[str], shared: bool = False, wait: bool = False) -> None:
        """Exclusive only: Windows' byte-range locks have no shared kind."""
        while True:
            fh.seek(0)
            try:
                # LK_LOCK tries for 10 s, then raises: waiting longer is trying again.
                msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                if not wait:
                    raise

    def _unlock(fh: IO[str]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fh: IO[str], shared: bool = False, wait: bool = False) -> None:
        fcntl.flock(fh.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))

    def _unlock(fh: IO[str]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
