"""Short blocking calls (catalog reads, image decodes) on a thread pool, with the result handed
back on the GUI thread.

The pool belongs to the library's session (:class:`~.session.LibrarySession`), which waits for
it when the library closes; each caller holds its own :class:`BackgroundCalls`, whose
``cancel_all`` drops what it asked for without touching anyone else's calls.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from .latest import LatestOnly, Ticket

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class _Call(QRunnable):
    def __init__(self, owner: BackgroundCalls, task_id: int, ticket: Ticket, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._owner, self._task_id, self._ticket, self._fn = owner, task_id, ticket, fn

    def run(self) -> None:
        if self._ticket.cancelled:
            return  # asked for before the caller's last cancel_all: nobody wants it now
        try:
            value = self._fn()
        except Exception as exc:  # noqa: BLE001 - handed to the caller's failure callback
            log.debug("background call failed", exc_info=True)
            self._owner.finished.emit(self._task_id, False, exc)
            return
        self._owner.finished.emit(self._task_id, True, value)


class BackgroundCalls(QObject):
    """One caller's calls on a shared pool; results arrive through one queued signal."""

    finished = Signal(int, bool, object)

    def __init__(self, pool: QThreadPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._callbacks: dict[int, tuple[Done, Failed | None]] = {}
        self._ids = itertools.count(1)
        self._generation = LatestOnly()
        self._ticket = self._generation.next()
        self.finished.connect(self._deliver)  # queued: emitted from pool threads

    def submit(self, fn: Callable[[], Any], on_done: Done, on_failed: Failed | None = None, priority: int = 0) -> int:
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_failed)
        self._pool.start(_Call(self, task_id, self._ticket, fn), priority)
        return task_id

    def cancel_all(self) -> None:
        """Skip this caller's queued calls and forget the callbacks of running ones."""
        self._ticket = self._generation.next()
        self._callbacks.clear()

    def _deliver(self, task_id: int, ok: bool, value: object) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:
            return  # cancelled
        on_done, on_failed = callbacks
        if ok:
            on_done(value)
        elif on_failed is not None and isinstance(value, BaseException):
            on_failed(value)
        else:
            log.warning("background call failed: %s", value)
