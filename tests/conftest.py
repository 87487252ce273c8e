"""Fixtures shared by the engine, CLI and GUI tests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Qt must never look for a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/imagegen.py

SHARED = Path(os.environ.get("PHOTOSEARCH_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")

# A tiny open_clip architecture: the real CLIP code path (tokenizer, towers, checkpoint
# loading) in milliseconds. Its weights are random, so it proves plumbing, not quality.
TINY_CLIP_NAME = "tiny-clip-test"
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def shared_dataset(name: str) -> Path:
    path = SHARED / "data" / name
    if not path.is_dir():
        pytest.skip(f"shared data set {name} is not on this machine ({path})")
    return path


def register_tiny_clip(config_dir: Path) -> Path:
    import open_clip

    config = config_dir / f"{TINY_CLIP_NAME}.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    return config


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """(model name, checkpoint file, config file) of a tiny random-weight CLIP."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny-clip")
    config = register_tiny_clip(folder)
    torch.manual_seed(0)
    checkpoint = folder / "tiny-clip.pt"
    torch.save(open_clip.create_model(TINY_CLIP_NAME).state_dict(), checkpoint)
    return f"clip:{TINY_CLIP_NAME}", checkpoint, config


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every app file of the test goes here, never into the real per-user folders."""
    path = tmp_path / "appdata"
    monkeypatch.setenv("PHOTOSEARCH_DATA_DIR", str(path))
    return path
