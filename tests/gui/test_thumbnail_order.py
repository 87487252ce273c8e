"""Which thumbnails a grid asks for, and in which order: the screen's rows first, top left
first, then the margin around them, nearest first, on the next turn of the event loop; a
newer screen supersedes the margin an older one had not asked for yet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from photosearch_desktop.engine.records import PhotoRecord, SearchResult
from photosearch_desktop.ui.photo_model import PhotoModel
from photosearch_desktop.ui.thumbnails import ThumbnailCache


class _Calls:
    """Stands in for the session's pool: records what is asked and with which priority."""

    def __init__(self, cache: ThumbnailCache) -> None:
        self.asked: list[tuple[int, str]] = []
        cache._make = lambda path, *_: path  # type: ignore[method-assign]

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None], on_failed: object = None,
               priority: int = 0) -> int:
        self.asked.append((priority, fn()))
        return len(self.asked)

    def cancel_all(self) -> None:
        pass


def _model(tmp_path: Path) -> tuple[PhotoModel, _Calls]:
    cache = ThumbnailCache()
    calls = _Calls(cache)
    cache._calls, cache.cache_dir = calls, tmp_path  # type: ignore[assignment]
    model = PhotoModel(cache, 100)
    photos = [PhotoRecord(i, f"{i}.jpg", "", 0, 0, 10, 10, None, None, None, None, None, None, "indexed", None)
              for i in range(100)]
    model.set_results([SearchResult(p, 1.0 - p.id / 100, f"/photos/{p.id}.jpg") for p in photos])
    return model, calls


def _rows(asked: list[tuple[int, str]]) -> list[int]:
    """The rows asked for, in the order the pool would make them (highest priority first)."""
    return [int(Path(path).stem) for _, path in sorted(asked, key=lambda a: -a[0])]


def test_the_screen_comes_first_then_the_margin_nearest_first(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, calls = _model(tmp_path)
    model.show_window(40, 44)
    assert _rows(calls.asked) == [40, 41, 42, 43, 44]  # the margin waits for the event loop
    qtbot.waitUntil(lambda: len(calls.asked) == 15)
    assert _rows(calls.asked) == [40, 41, 42, 43, 44, 45, 39, 46, 38, 47, 37, 48, 36, 49, 35]


def test_a_newer_screen_supersedes_the_margin_not_asked_yet(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, calls = _model(tmp_path)
    model.show_window(80, 84)
    model.show_window(10, 14)  # scrolled on before the event loop turned
    qtbot.waitUntil(lambda: len(calls.asked) == 20)
    assert _rows(calls.asked) == [10, 11, 12, 13, 14, 15, 9, 16, 8, 17, 7, 18, 6, 19, 5, 80, 81, 82, 83, 84]
    qtbot.wait(50)  # a few more turns of the event loop: the first screen's margin is never asked
    assert len(calls.asked) == 20
