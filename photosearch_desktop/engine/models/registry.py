"""The models a user can choose, by name.

Importing this module is cheap: torch and the model code are imported only when a model is
created, so the command line and the window start fast.
"""

from __future__ import annotations

from ..errors import Action, ModelError, hint
from ..records import ModelSpec

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
            # laion/CLIP-ViT-B-32-laion2B-s34B-b79K, revision 1a25a446: the LFS pointer's
            # "oid sha256" of its 605,143,316 bytes. Its open_clip_pytorch_model.bin is
            # checked on first use instead (its hash was not found in public material).
            weights_sha256=(
                ("open_clip_model.safetensors", "ac4f8c4b88af6d963118cbf40ad93176d092abbedfcb752601ae1866352656e6"),
            ),
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
            # No hash listed: its repository's main branch holds open_clip_pytorch_model.bin
            # only, whose LFS hash was not found in public material; checked on first use.
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
            raise ModelError("Write a custom CLIP model as clip:ARCH or clip:ARCH:PRETRAINED_TAG.", hint(Action.CHECK_INPUT))
        return ModelSpec(
            name=name,
            description=f"open_clip {arch} {tag or '(weights from a file)'}",
            supports_text=True,
            download_mb=0,
            dup_threshold=0.93,
            kind="clip",
            arch=arch,
            pretrained=tag,
        )
    known = ", ".join(MODELS)
    raise ModelError(f"Unknown model '{name}'. Known models: {known} (or clip:ARCH:TAG).", hint(Action.CHOOSE_MODEL))
