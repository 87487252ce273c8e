"""Imports the engine's heavy dependencies from a worker thread without freezing the window.

Importing torch, timm and faiss takes seconds. Doing it in a worker thread keeps the window
responsive only as long as the importing thread lets go of the GIL regularly, and three things
stop it from doing so for 100-300 ms at a time (measured on a 2-core laptop-class machine):

* ``dlopen`` of the huge native libraries (libtorch_python pulls in ~900 MB of .so files):
  Python's import machinery calls it with the GIL held. Loading the same files first through
  ``libc.dlopen`` via ctypes releases the GIL (ctypes releases it around every foreign call),
  and the later ``import`` then finds them already loaded.
* full garbage collections triggered by the hundreds of thousands of objects an import of torch
  creates. The collector is paused during the imports and the imported objects are frozen
  afterwards (``gc.freeze``), so later collections do not walk them again.
* the GIL hand-over itself: the GUI thread asks for the GIL and waits one switch interval
  (5 ms by default) before the importing thread is told to let go, and under import load that
  stretched to 40-120 ms pauses. While imports and the model load run, the interval is 1 ms
  (pauses measured 20-30 ms), see :func:`loading_quietly`.

The OpenMP spin policy the engine needs (see ``photosearch_desktop.engine``) is set by
importing the engine package first, before numpy, faiss or torch load their runtimes.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import glob
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# CUDA builds of torch load these from the nvidia-* wheels with ctypes at import, in this order
# (cublasLt before cublas, nvJitLink before cusparse: see torch/__init__.py); loading them the
# same way first, but without the GIL, leaves torch nothing slow to do. Absent files are skipped.
_CUDA_LIBRARIES = (
    ("cublas", "libcublasLt.so.*[0-9]"), ("cublas", "libcublas.so.*[0-9]"), ("cudnn", "libcudnn.so.*[0-9]"),
    ("cuda_nvrtc", "libnvrtc.so.*[0-9]"), ("cuda_nvrtc", "libnvrtc-builtins.so.*[0-9]"),
    ("cuda_runtime", "libcudart.so.*[0-9]"), ("cuda_cupti", "libcupti.so.*[0-9]"), ("cufft", "libcufft.so.*[0-9]"),
    ("nvjitlink", "libnvJitLink.so.*[0-9]"), ("cusparse", "libcusparse.so.*[0-9]"),
    ("cusparselt", "libcusparseLt.so.*[0-9]"), ("cusolver", "libcusolver.so.*[0-9]"), ("nccl", "libnccl.so.*[0-9]"),
    ("nvshmem", "libnvshmem_host.so.*[0-9]"), ("cufile", "libcufile.so.*[0-9]"), ("nvtx", "libnvToolsExt.so.*[0-9]"),
)
# (package, shared libraries inside it, in load order).
_NATIVE_LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("torch", ("lib/libtorch_global_deps.so",)),
    ("nvidia", tuple(p for folder, name in _CUDA_LIBRARIES for p in (f"{folder}/lib/{name}", f"cu*/lib/{name}"))),
    ("torch", ("lib/libtorch_python.so", "_C.*.so")),
    ("triton", ("_C/libtriton*.so",)),
    ("torchvision", ("*.so",)),
)
_CATALOG_MODULES = ("numpy", "faiss", "photosearch_desktop.engine.library")
_MODEL_MODULES = ("torch", "timm", "open_clip")

_lock = threading.Lock()
_loaded: set[str] = set()
LOADING_SWITCH_INTERVAL_S = 0.001  # see responsive_gil


def load_engine_modules(models: bool) -> None:
    """Import what opening a library needs (and, with ``models``, what running a model needs).

    Idempotent and thread-safe: a second caller waits for the first one's imports.
    """
    wanted = _CATALOG_MODULES + (_MODEL_MODULES if models else ())
    import photosearch_desktop.engine  # noqa: F401  (sets the OpenMP spin policy, read once at load)

    with _lock:
        missing = [name for name in wanted if name not in _loaded]
        if not missing:
            return
        started = time.perf_counter()
        if models:
            _preload_native_libraries()
        with loading_quietly():
            for name in missing:
                try:
                    importlib.import_module(name)
                except ImportError as exc:
                    # open_clip is only needed for CLIP models; the model loader reports it
                    # in plain words if the chosen model needs it.
                    log.warning("could not import %s: %s", name, exc)
                _loaded.add(name)
        log.info("imported %s in %.2f s", ", ".join(missing), time.perf_counter() - started)


@contextmanager
def loading_quietly() -> Iterator[None]:
    """For importing modules or building a model in a worker thread: the GIL is handed to
    the GUI thread quickly, and no garbage collection walks the new objects meanwhile."""
    with _collector_paused(), responsive_gil():
        yield


@contextmanager
def responsive_gil() -> Iterator[None]:
    """Hand the GIL to a waiting thread (the GUI's) after 1 ms instead of 5 for a while."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, LOADING_SWITCH_INTERVAL_S))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


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


# Frozen objects are skipped even by the collection at interpreter exit, which makes native
# extensions (nanobind in triton) report them as leaked; thaw them first.
atexit.register(gc.unfreeze)


def _preload_native_libraries() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        dlopen = ctypes.CDLL(None).dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    for package, patterns in _NATIVE_LIBRARIES:
        spec = importlib.util.find_spec(package)  # finds the folder without importing it
        if spec is None or not spec.submodule_search_locations:
            continue
        base = list(spec.submodule_search_locations)[0]  # "nvidia" is a namespace package
        for pattern in patterns:
            for path in sorted(glob.glob(os.path.join(base, pattern))):
                # torch loads its global deps with RTLD_GLOBAL itself; everything else stays local.
                scope = os.RTLD_GLOBAL if "global_deps" in path else os.RTLD_LOCAL
                if not dlopen(path.encode(), os.RTLD_NOW | scope):
                    log.debug("preloading %s failed; the import will load it", path)
