"""Starting the model's process (engine/models/process.py), and starting one early.

A model process spends its first half second or so starting Python and importing NumPy, ONNX
Runtime and the loaders, before it knows which model it will run. The window's first query
waited for all of that after the library had opened: `scripts/bench_gui.py`'s first query
after launch, broken down (AMD EPYC, 2 cores), was 1.0-1.1 s to the library being open, then
0.8 s in the engine, most of it the model process starting. :func:`start_spare` starts one at
launch, while the window builds itself; it imports and then waits for its model, and the next
:class:`~.process.ModelProcess` takes it instead of starting its own.

Light on purpose (no NumPy): the window calls it on its GUI thread before anything heavy is
imported.
"""

from __future__ import annotations

import atexit
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CREATE_NO_WINDOW = 0x08000000  # subprocess.CREATE_NO_WINDOW, which exists only on Windows

_lock = threading.Lock()
_spare: subprocess.Popen[bytes] | None = None


def command() -> list[str]:
    """Python running the model process's ``serve``, finding this package where this process found it."""
    package_parent = str(Path(__file__).resolve().parents[3])
    code = (
        f"import sys; p = {package_parent!r}; sys.path.insert(0, p) if p not in sys.path else None; "
        "from photosearch_desktop.engine.models.process import serve; serve()"
    )
    return [sys.executable, "-c", code]


def child_options(stderr: object, platform: str) -> dict[str, Any]:
    """How the model process is started besides its pipes. Without a stderr of our own (a GUI
    app on Windows, ``pythonw``: ``sys.stderr`` is None) it gets the null device rather than an
    invalid handle; on Windows it never opens a console window of its own."""
    options: dict[str, Any] = {}
    if stderr is None:
        options["stderr"] = subprocess.DEVNULL
    if platform == "win32":
        options["creationflags"] = CREATE_NO_WINDOW
    return options


def start_model_process() -> subprocess.Popen[bytes]:
    return subprocess.Popen(command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, **child_options(sys.stderr, sys.platform))


def start_spare() -> None:
    """Start a model process now, for the next model that loads (no-op while one waits)."""
    global _spare
    with _lock:
        if _spare is None or _spare.poll() is not None:
            _spare = start_model_process()
            log.debug("started a spare model process (%d)", _spare.pid)


def take_spare() -> subprocess.Popen[bytes] | None:
    """The spare model process, if one is running (it is then no longer the spare)."""
    global _spare
    with _lock:
        spare, _spare = _spare, None
    if spare is not None and spare.poll() is not None:
        _close(spare)
        return None
    return spare


def _close(process: subprocess.Popen[bytes]) -> None:
    """A spare that was never used: closing its stdin ends it."""
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@atexit.register
def _close_unused_spare() -> None:
    spare = take_spare()
    if spare is not None:
        _close(spare)
