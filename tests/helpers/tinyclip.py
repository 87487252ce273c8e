"""A tiny open_clip architecture for tests and scripts: the real CLIP code path (tokenizer,
both towers, checkpoint loading through --weights) in milliseconds. Its weights are random,
so it proves plumbing, never quality."""

from __future__ import annotations

import json
from pathlib import Path

TINY_CLIP_NAME = "tiny-clip-test"
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def register_tiny_clip(folder: Path) -> Path:
    """Write the config into ``folder`` and register it with open_clip; returns the config file."""
    import open_clip

    config = folder / f"{TINY_CLIP_NAME}.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    return config


def make_tiny_clip(folder: Path) -> tuple[str, Path, Path]:
    """(model name for --model, checkpoint for --weights, config file) of a seeded tiny CLIP."""
    import open_clip
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    config = register_tiny_clip(folder)
    torch.manual_seed(0)
    weights = folder / "tiny-clip.pt"
    torch.save(open_clip.create_model(TINY_CLIP_NAME).state_dict(), weights)
    return f"clip:{TINY_CLIP_NAME}", weights, config
