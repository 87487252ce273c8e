"""The shared data sets (real photos) next to the checkout: ``../shared/data/NAME``, or under
``$PHOTOSEARCH_SHARED``. Tests that need one are skipped where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("PHOTOSEARCH_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")


def shared_dataset(name: str) -> Path:
    path = SHARED / "data" / name
    if not path.is_dir():
        pytest.skip(f"shared data set {name} is not on this machine ({path})")
    return path
