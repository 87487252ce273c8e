"""Fixtures shared by the engine, CLI and GUI tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Qt must never look for a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/imagegen.py, tinyclip.py

from tinyclip import make_tiny_clip  # noqa: E402

SHARED = Path(os.environ.get("PHOTOSEARCH_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")


def shared_dataset(name: str) -> Path:
    path = SHARED / "data" / name
    if not path.is_dir():
        pytest.skip(f"shared data set {name} is not on this machine ({path})")
    return path


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """(model name, checkpoint file, config file) of a tiny random-weight CLIP."""
    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models cache for the tests that use ``data_dir``: a model's ONNX graphs are exported
    once per test run (efficientnet-lite2 takes 15 s), as once per computer for a person."""
    return tmp_path_factory.mktemp("models-cache")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: Path) -> Path:
    """Every app file of the test goes here, never into the real per-user folders (the models
    cache is the run's shared one)."""
    path = tmp_path / "appdata"
    (path / "cache").mkdir(parents=True)
    (path / "cache" / "models").symlink_to(shared_models, target_is_directory=True)
    monkeypatch.setenv("PHOTOSEARCH_DATA_DIR", str(path))
    return path
