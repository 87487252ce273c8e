"""One writer per library: a second indexer (another window, the CLI) is told it is busy."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType


class LibraryBusy(RuntimeError):
    """Another PhotoSearch process is updating this library."""


class WriterLock:
    """An advisory lock on a file in the library's data folder, released even on a crash
    (the OS drops it with the process), so a killed indexer never leaves the library locked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = None

    def __enter__(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            _lock(fh)
        except OSError:
            fh.close()
            raise LibraryBusy(
                "Another PhotoSearch window or command is updating this library right now. "
                "Wait for it to finish, then try again."
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


if os.name == "nt":
    import msvcrt

    def _lock(fh) -> None:  # type: ignore[no-untyped-def]
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(fh) -> None:  # type: ignore[no-untyped-def]
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fh) -> None:  # type: ignore[no-untyped-def]
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fh) -> None:  # type: ignore[no-untyped-def]
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
