"""Builds a model by registry name: heavy (imports torch and the model code, loads weights)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import Action, ModelError, hint
from .base import Embedder
from .registry import get_spec


def create_embedder(
    name: str,
    device: str | None = None,
    weights: Path | None = None,
    cache_dir: Path | None = None,
    download_progress: Callable[[int, int], None] | None = None,
    force_download: bool = False,
) -> Embedder:
    """Build the model; heavy (imports torch, loads weights). ``force_download``: fetch
    downloaded weights anew (the person asked for it)."""
    spec = get_spec(name)
    from .device import resolve_device

    dev = resolve_device(device)
    if spec.kind == "clip":
        from .clip import ClipEmbedder

        return ClipEmbedder(
            spec, device=dev, weights=weights, cache_dir=cache_dir, download_progress=download_progress,
            force_download=force_download,
        )
    from .efficientnet_lite import EfficientNetLite2Embedder

    if weights is not None:
        raise ModelError(
            "efficientnet-lite2 uses the weights that ship with it; a weights file is for CLIP models.",
            hint(Action.CHECK_INPUT),
        )
    return EfficientNetLite2Embedder(device=dev)
