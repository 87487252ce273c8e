"""The window imports the engine's modules once, in a worker, before the first library opens
(ui/heavy_imports.load_engine_modules): the first search must not import them."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from photosearch_desktop.engine import library
from photosearch_desktop.ui import heavy_imports


def test_the_engine_is_preloaded_once_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def preload() -> None:
        calls.append((gc.isenabled(), sys.getswitchinterval()))

    monkeypatch.setattr(heavy_imports, "_loaded", threading.Event())
    monkeypatch.setattr(library, "preload", preload)
    heavy_imports.load_engine_modules()
    heavy_imports.load_engine_modules()  # the second caller finds it done
    assert calls == [(False, heavy_imports.LOADING_SWITCH_INTERVAL_S)]


def test_preloading_imports_what_a_first_search_needs() -> None:
    library.preload()
    for name in ("numpy.ma", "faiss", "photosearch_desktop.engine.query.search",
                 "photosearch_desktop.engine.media.loader", "threadpoolctl"):
        assert name in sys.modules, name
    from photosearch_desktop.engine.system import blas

    assert blas._controller is not None  # the libraries are found before the first search
