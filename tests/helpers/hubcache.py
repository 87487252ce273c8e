"""A model cache laid out as huggingface_hub leaves a download (refs/main, snapshots/REV/FILE ->
blobs/SHA256), for testing what the app does with cached weights when nothing can be downloaded."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

REVISION = "1a25a446712ba5ee05982a381eed697ef9b435cf"
B32_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
B16_REPO = "laion/CLIP-ViT-B-16-DataComp.XL-s13B-b90K"


def cache_weights(models: Path, repo: str, filename: str, content: bytes) -> Path:
    """A weights file in the model cache ``models``; returns its snapshot path (a link)."""
    folder = models / ("models--" + repo.replace("/", "--"))
    digest = hashlib.sha256(content).hexdigest()
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "blobs" / digest).write_bytes(content)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(REVISION)
    snapshot = folder / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    link = snapshot / filename
    link.unlink(missing_ok=True)
    link.symlink_to(Path("../../blobs") / digest)
    return link


def tamper(path: Path) -> None:
    """Change bytes in the middle, as damage on disk or someone with write access would."""
    with open(path.resolve(), "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        fh.write(b"tampered")
