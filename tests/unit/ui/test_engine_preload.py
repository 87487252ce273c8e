"""ui/heavy_imports: the window imports the engine's modules once, in a worker, before the first
library opens (the first search must not import them), and spans of worker work that keep the
GIL switch interval short nest across threads."""

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


def test_overlapping_responsive_spans_restore_the_interval_the_last_one_out() -> None:
    original = sys.getswitchinterval()
    first, second = heavy_imports.responsive_gil(), heavy_imports.responsive_gil()
    first.__enter__()
    second.__enter__()  # another thread's span, begun inside the first one
    assert sys.getswitchinterval() == heavy_imports.LOADING_SWITCH_INTERVAL_S
    first.__exit__(None, None, None)  # the first one ends first: the other still needs it short
    assert sys.getswitchinterval() == heavy_imports.LOADING_SWITCH_INTERVAL_S
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == original
