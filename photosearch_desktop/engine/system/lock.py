"""One writer per library: a second indexer (another window, the CLI) is told it is busy."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

from ..errors import Action, LibraryBusy, hint
from .private_files import open_private, private_dir


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


if sys.platform == "win32":
    import msvcrt

    def _lock(fh: IO[str]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(fh: IO[str]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fh: IO[str]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fh: IO[str]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
