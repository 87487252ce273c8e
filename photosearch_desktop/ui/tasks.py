"""Short blocking calls (catalog reads, image decodes) on a thread pool, with the result handed
back on the GUI thread."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class _Call(QRunnable):
    def __init__(self, owner: BackgroundCalls, task_id: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._owner, self._task_id, self._fn = owner, task_id, fn

    def run(self) -> None:
        try:
            value = self._fn()
        except Exception as exc:  # noqa: BLE001 - handed to the caller's failure callback
            log.debug("background call failed", exc_info=True)
            self._owner.finished.emit(self._task_id, False, exc)
            return
        self._owner.finished.emit(self._task_id, True, value)


class BackgroundCalls(QObject):
    """A small thread pool whose results arrive through one queued signal on the GUI thread.

    Callbacks are kept here rather than in per-task QObjects, so cancelling (``cancel_all``)
    simply forgets them: a result that arrives later is dropped.
    """

    finished = Signal(int, bool, object)

    def __init__(self, threads: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._callbacks: dict[int, tuple[Done, Failed | None]] = {}
        self._ids = itertools.count(1)
        self.finished.connect(self._deliver)  # queued: emitted from pool threads

    def submit(self, fn: Callable[[], Any], on_done: Done, on_failed: Failed | None = None, priority: int = 0) -> int:
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_failed)
        self._pool.start(_Call(self, task_id, fn), priority)
        return task_id

    def cancel_all(self) -> None:
        """Drop queued calls and forget the callbacks of running ones."""
        self._pool.clear()
        self._callbacks.clear()

    def shutdown(self, timeout_ms: int) -> bool:
        self.cancel_all()
        return self._pool.waitForDone(timeout_ms)

    def _deliver(self, task_id: int, ok: bool, value: object) -> None:
        callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:
            return  # cancelled
        on_done, on_failed = callbacks
        if ok:
            on_done(value)
        elif on_failed is not None:
            on_failed(value)  # type: ignore[arg-type]
        else:
            log.warning("background call failed: %s", value)
