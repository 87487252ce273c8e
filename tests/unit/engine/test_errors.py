"""The engine's errors (engine/errors.py)."""

from __future__ import annotations

import pickle

from photosearch_desktop.engine.errors import LoadError


def test_load_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(LoadError("vanished", "gone")))
    assert (err.code, err.reason, str(err)) == ("vanished", "gone", "gone")
