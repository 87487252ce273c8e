"""Fixtures shared by the unit, integration and GUI tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Qt must never look for a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

# The tests' helper modules (imagegen, libgen, tinyclip, whitebox...) import by their names.
sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

from tinyclip import make_tiny_clip  # noqa: E402


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """(model name, checkpoint file, config file) of a tiny random-weight CLIP."""
    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every app file of the test goes here, never into the real per-user folders."""
    path = tmp_path / "appdata"
    monkeypatch.setenv("PHOTOSEARCH_DATA_DIR", str(path))
    return path
