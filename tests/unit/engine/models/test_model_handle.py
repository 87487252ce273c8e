"""The model handle: one load shared by every caller, and closing it never waits for a load."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from photosearch_desktop.engine.errors import ModelStopped
from photosearch_desktop.engine.models.handle import ModelHandle


class _Model:
    alive = True

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _SlowHandle(ModelHandle):
    """Its load waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__("efficientnet-lite2", "cpu", None, Path("unused"))
        self.started, self.finish = threading.Event(), threading.Event()
        self.models: list[_Model] = []

    def _load(self) -> _Model:  # type: ignore[override]
        self.started.set()
        assert self.finish.wait(10)
        self.models.append(_Model())
        return self.models[-1]


def test_closing_during_a_load_returns_at_once_and_the_model_is_closed_as_it_arrives() -> None:
    handle = _SlowHandle()
    outcome: list[object] = []

    def load() -> None:
        try:
            outcome.append(handle.get())
        except ModelStopped as exc:
            outcome.append(exc)

    loader = threading.Thread(target=load)
    loader.start()
    assert handle.started.wait(10)
    handle.close()  # returns while the load still runs: it would block forever otherwise
    handle.finish.set()
    loader.join(10)
    assert isinstance(outcome[0], ModelStopped) and handle.models[0].closed and handle.loaded is None
    handle.finish.set()
    assert handle.get() is handle.models[1] and not handle.models[1].closed  # a later call loads again


def test_closing_a_loaded_model_closes_it() -> None:
    handle = _SlowHandle()
    handle.finish.set()
    model = handle.get()
    handle.close()
    assert model.closed and handle.loaded is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("callers", [2, 4])
def test_concurrent_callers_share_one_load(callers: int) -> None:
    handle = _SlowHandle()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(handle.get())) for _ in range(callers)]
    for t in threads:
        t.start()
    assert handle.started.wait(10)
    handle.finish.set()
    for t in threads:
        t.join(10)
    assert len(handle.models) == 1 and got == [handle.models[0]] * callers
