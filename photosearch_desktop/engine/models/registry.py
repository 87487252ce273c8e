"""The models a user can choose, by name.

Importing this module is cheap: torch and the model code are imported only when a model is
created, so the command line and the window start fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import Embedder, ModelError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    supports_text: bool
    download_mb: int  # 0 = ships with the install
    # Cosine similarity above which two photos count as near-duplicates (see README): groups in
    # `photosearch dupes`, folding in collapsed results. Copies below it (small or heavily
    # compressed ones) are still found by the pixel check in engine/duplicates.py.
    # efficientnet-lite2: calibrated with scripts/bench_dupes.py (75 library-dev photos x 12
    # Copydays-style copies + 500 UKBench distractors): the highest threshold with the best
    # recall while pair precision stays >= 0.99 (0.83: precision 1.0, recall 1.0 mild / 1.0 all;
    # recall holds from 0.78, precision drops below 0.99 under 0.77).
    # CLIP models: 0.93 is a documented starting value, NOT calibrated here (no CLIP weights on
    # the calibration machine); run scripts/bench_dupes.py with the model to calibrate it.
    dup_threshold: float
    kind: str  # "clip" | "efficientnet-lite2"
    arch: str = ""
    pretrained: str = ""


DEFAULT_MODEL = "clip-vit-b-32"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="clip-vit-b-32",
            description="CLIP ViT-B/32 (LAION-2B): search by photo or by words",
            supports_text=True,
            download_mb=605,
            dup_threshold=0.93,
            kind="clip",
            arch="ViT-B-32",
            pretrained="laion2b_s34b_b79k",
        ),
        ModelSpec(
            name="clip-vit-b-16",
            description="CLIP ViT-B/16 (DataComp-XL): sharper, about 3x slower than B/32",
            supports_text=True,
            download_mb=599,
            dup_threshold=0.93,
            kind="clip",
            arch="ViT-B-16",
            pretrained="datacomp_xl_s13b_b90k",
        ),
        ModelSpec(
            name="efficientnet-lite2",
            description="EfficientNet-Lite2 (ImageNet): photos only, no download needed",
            supports_text=False,
            download_mb=0,
            dup_threshold=0.83,
            kind="efficientnet-lite2",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """Look a model up by registry name, or ``clip:ARCH[:TAG]`` for any open_clip model."""
    if name in MODELS:
        return MODELS[name]
    if name.startswith("clip:"):
        arch, _, tag = name[len("clip:"):].partition(":")
        if not arch:
            raise ModelError("Write a custom CLIP model as clip:ARCH or clip:ARCH:PRETRAINED_TAG.")
        return ModelSpec(
            name=name,
            description=f"open_clip {arch} {tag or '(weights from --weights)'}",
            supports_text=True,
            download_mb=0,
            dup_threshold=0.93,
            kind="clip",
            arch=arch,
            pretrained=tag,
        )
    known = ", ".join(MODELS)
    raise ModelError(f"Unknown model '{name}'. Known models: {known} (or clip:ARCH:TAG).")


def create_embedder(
    name: str,
    device: str | None = None,
    weights: Path | None = None,
    cache_dir: Path | None = None,
    download_progress: Callable[[int, int], None] | None = None,
) -> Embedder:
    """Build the model; heavy (imports torch, loads weights)."""
    spec = get_spec(name)
    from .device import resolve_device

    dev = resolve_device(device)
    if spec.kind == "clip":
        from .clip import ClipEmbedder

        return ClipEmbedder(
            spec, device=dev, weights=weights, cache_dir=cache_dir, download_progress=download_progress
        )
    from .efficientnet_lite import EfficientNetLite2Embedder

    if weights is not None:
        raise ModelError("efficientnet-lite2 uses the weights that ship with it; --weights is for CLIP models.")
    return EfficientNetLite2Embedder(device=dev)
