"""Imports the engine's dependencies from a worker thread without freezing the window.

The model (torch, timm, open_clip) runs in a process of its own (engine/models/process.py), so
torch is never imported here. numpy, faiss and the engine still are, and that import held up
the GUI thread for 40-65 ms at a time (a 2-core laptop-class machine) through three things:

* ``dlopen`` of the native libraries (numpy's core, faiss and its OpenBLAS, ~60 MB): Python's
  import machinery calls it with the GIL held. Loading the same files first through
  ``libc.dlopen`` via ctypes releases the GIL (ctypes releases it around every foreign call),
  and the later ``import`` then finds them already loaded. This halved the worst pauses.
* full garbage collections triggered by the many objects an import creates. The collector is
  paused during the imports and the imported objects are frozen afterwards (``gc.freeze``), so
  later collections do not walk them again.
* the GIL hand-over itself: the GUI thread asks for the GIL and waits one switch interval
  (5 ms by default) before the importing thread is told to let go. While imports and loading
  run, the interval is 1 ms (0.2 ms was measured worse), see :func:`loading_quietly`.

The OpenMP spin policy the engine needs (see ``photosearch_desktop.engine``) is set by
importing the engine package first, before numpy or faiss load their runtimes.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import glob
import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# (package, its shared libraries, relative to the package folder); the loader brings in each
# one's dependencies itself. Absent files are skipped.
_NATIVE_LIBRARIES = (
    ("numpy", ("../numpy.libs/*.so*", "_core/_multiarray_umath*.so")),
    ("faiss", ("../faiss_cpu.libs/*.so*", "libfaiss*.so", "_swigfaiss*.so")),
)

_lock = threading.Lock()
_loaded = threading.Event()
LOADING_SWITCH_INTERVAL_S = 0.001  # see responsive_gil


def load_engine_modules() -> None:
    """Import what opening and searching a library needs.

    Idempotent and thread-safe: a second caller waits for the first one's imports.
    """
    # The engine package sets the OpenMP spin policy, read once when numpy and faiss load.
    from ..engine import library

    with _lock:
        if _loaded.is_set():
            return
        started = time.perf_counter()
        _preload_native_libraries()
        with loading_quietly():
            library.preload()
        _loaded.set()
        log.info("imported the engine's modules in %.2f s", time.perf_counter() - started)


def _preload_native_libraries() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        dlopen = ctypes.CDLL(None).dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    paths = []
    for package, patterns in _NATIVE_LIBRARIES:
        spec = importlib.util.find_spec(package)  # finds the folder without importing it
        if spec is None or not spec.submodule_search_locations:
            continue
        base = list(spec.submodule_search_locations)[0]
        paths += [os.path.realpath(p) for pattern in patterns for p in sorted(glob.glob(os.path.join(base, pattern)))]
    # A bundled library found only through a sibling that is loaded already (libgfortran needs
    # libquadmath) fails on the first pass and loads on a later one.
    while paths:
        failed = [path for path in paths if not dlopen(path.encode(), os.RTLD_NOW | os.RTLD_LOCAL)]
        if len(failed) == len(paths):
            log.debug("could not preload %s; the import will load them", ", ".join(failed))
            return
        paths = failed


@contextmanager
def loading_quietly() -> Iterator[None]:
    """For importing modules or building a model in a worker thread: the GIL is handed to
    the GUI thread quickly, and no garbage collection walks the new objects meanwhile."""
    with _collector_paused(), responsive_gil():
        yield


_gil_lock = threading.Lock()
_gil_users = 0
_gil_previous = 0.0


@contextmanager
def responsive_gil() -> Iterator[None]:
    """Hand the GIL to a waiting thread (the GUI's) after 1 ms instead of 5 for a while: while
    modules load, and while a query runs (its small numpy and SQLite calls take the GIL back
    and forth; the window's work after a library opens waited 43-74 ms for it, 27-44 ms with
    this, scripts/bench_gui.py's first query). Threads may overlap: the first one in sets
    the interval, the last one out restores it."""
    global _gil_users, _gil_previous
    with _gil_lock:
        if _gil_users == 0:
            _gil_previous = sys.getswitchinterval()
            sys.setswitchinterval(min(_gil_previous, LOADING_SWITCH_INTERVAL_S))
        _gil_users += 1
    try:
        yield
    finally:
        with _gil_lock:
            _gil_users -= 1
            if _gil_users == 0:
                sys.setswitchinterval(_gil_previous)


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # the imported modules live as long as the app: never scan them again
        if was_enabled:
            gc.enable()


def lighten_pyside_import_hook() -> None:
    """Import Qt, then make PySide6's check of every later import cheap.

    PySide6 looks at each module imported after it for the word "PySide6", to know which
    modules its ``__feature__`` switches apply to (shibokensupport.feature, PYSIDE-2029), with
    ``inspect.getsource``: linecache and the tokenizer over the whole file, in Python, with the
    GIL held. Sampled while a library opened, the engine's imports in a worker thread spent
    their time there while the GUI thread waited 64-119 ms. This asks the same question of the
    source file's bytes; a module without a ``.py`` file goes to PySide's own check. Nothing
    here uses the ``__feature__`` switches; a PySide without this hook is left as it is."""
    import PySide6.QtCore  # noqa: F401 - loads the hook

    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or getattr(original, "lightened", False):
        return

    def uses_pyside(module: object) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                pass
        return bool(original(module))

    uses_pyside.lightened = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[union-attr]


def freeze_long_lived() -> None:
    """Take every object alive now out of the collector's sight (``gc.freeze``): called once
    the window is built (its widgets and the modules imported for them live as long as the
    app) and once a library has opened (its folder tree and the engine's objects live as long
    as the library). A full collection walked them all again each time, 30-35 ms of GUI thread
    at once on a 2-core machine (``scripts/bench_gui.py``: the only stall over 50 ms while the
    model loaded, and one of those before a first query). Objects freed later are freed as
    usual; only garbage cycles alive at this moment stay, once."""
    gc.freeze()


# Frozen objects are skipped even by the collection at interpreter exit, which makes native
# extensions built with nanobind (triton's, where torch is loaded too) report them as leaked.
atexit.register(gc.unfreeze)
