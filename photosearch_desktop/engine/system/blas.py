"""Small matrix products on one BLAS thread.

OpenBLAS (numpy's) splits even a (120, 256) x (256, 120) product over every core, and on a
busy 2-core machine its threads wait for each other: that product took 5.3 ms on two threads
and 0.09 ms on one (AMD EPYC, 2 cores, load ~1.5). The copy decision of a collapsed search is
hundreds of such products (16 to 64 px pictures), so it runs on one thread: a collapsed k = 60
search on 10,000 photos went from 126 to 38 ms (scripts/bench_collapse.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None
_lock = threading.Lock()
_depth = 0
_limiter: Any = None


def find_blas() -> None:
    """Find numpy's BLAS now: threadpoolctl looks through every loaded library (~30 ms), which
    would otherwise fall on the first collapsed search. Call it once numpy is imported."""
    global _controller
    with _lock:
        if _controller is None:
            _controller = ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread while inside (re-entrant and thread-safe: the first caller in
    sets it, the last one out restores it; other threads' products meanwhile run on one too)."""
    global _depth, _limiter
    find_blas()
    with _lock:
        if _depth == 0:
            assert _controller is not None
            _limiter = _controller.limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limiter.restore_original_limits()
                _limiter = None
