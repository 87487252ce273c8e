"""Realistic embedding vectors at library scale, made from real photos.

How the vectors are made (so recall is measured on photo-like structure, not uniform noise):

1. Real photos (../shared/data: UKBench-dev, library-dev, messy-dev) are embedded with
   efficientnet-lite2, each together with augmented copies (crops, flips, colour and
   brightness shifts, blur, re-compression): the copies give the real spread of one
   picture's vectors, the originals the real spread between pictures.
2. Projection to the target dimension (512 = ViT-B-32's): the embeddings' common direction,
   then PCA of the rest, fitted on those embeddings.
3. Synthetic "scenes": each centre is a real photo moved towards another real photo
   (a random mix), plus noise with the real photos' own covariance; each scene gets a burst
   of shots = centre + a real augmentation delta (copy minus original, drawn at random) +
   small noise. Scene sizes follow a long-tailed distribution (many single photos, a few
   big bursts), as in a personal library. Everything is L2-normalised.

The real embeddings are cached in the temp folder, so later runs only regenerate.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

WORK = Path(tempfile.gettempdir()) / "photosearch-bench"
SHARED = Path(os.environ.get("PHOTOSEARCH_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")


def _augmentations(im):  # type: ignore[no-untyped-def]
    from io import BytesIO

    from PIL import Image, ImageEnhance, ImageFilter, ImageOps

    w, h = im.size
    out = [
        im.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
        ImageOps.mirror(im),
        ImageEnhance.Brightness(im).enhance(1.3),
        ImageEnhance.Color(im).enhance(0.6),
        im.filter(ImageFilter.GaussianBlur(2)),
        im.rotate(8, resample=Image.Resampling.BILINEAR, expand=False),
    ]
    buf = BytesIO()
    im.save(buf, "JPEG", quality=30)
    out.append(Image.open(BytesIO(buf.getvalue())).convert("RGB"))
    return out


def real_embeddings() -> tuple[np.ndarray, np.ndarray]:
    """(originals (P, 1280), deltas (P * A, 1280)) from efficientnet-lite2 on real photos."""
    cache = WORK / "real-embeddings.npz"
    if cache.exists():
        data = np.load(cache)
        return data["originals"], data["deltas"]
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from photosearch_desktop.engine.errors import LoadError
    from photosearch_desktop.engine.media.loader import load_image
    from photosearch_desktop.engine.models.factory import create_embedder

    files = [p for sub in ("ukbench-dev/images", "library-dev/photos", "messy-dev/files") for p in sorted((SHARED / "data" / sub).rglob("*")) if p.is_file()]
    if not files:
        raise SystemExit(f"no real photos under {SHARED / 'data'}: cannot make realistic vectors")
    embedder = create_embedder("efficientnet-lite2", device="cpu")
    originals, deltas = [], []
    for i, path in enumerate(files):
        if i % 100 == 0:
            print(f"embedding real photos and their copies: {i}/{len(files)}", file=sys.stderr, flush=True)
        try:
            im = load_image(path, min_side=embedder.input_size).image
        except LoadError:
            continue
        vecs = embedder.encode_images([im, *_augmentations(im)])
        originals.append(vecs[0])
        deltas.extend(vecs[1:] - vecs[0])
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(cache, originals=np.asarray(originals), deltas=np.asarray(deltas))
    return np.asarray(originals), np.asarray(deltas)


def realistic_vectors(n: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors of ``dim`` with the structure of a real photo library (see top)."""
    originals, deltas = real_embeddings()
    # Real embeddings share a strong common direction (mean pairwise cosine 0.27 here): keep
    # it as the first axis, then PCA of the rest, fitted on originals and copies so both kinds
    # of variation survive the projection.
    mean_dir = originals.mean(axis=0) / np.linalg.norm(originals.mean(axis=0))
    fit = np.concatenate([originals - originals.mean(axis=0), deltas])
    fit -= np.outer(fit @ mean_dir, mean_dir)
    _, _, vt = np.linalg.svd(fit, full_matrices=False)
    basis = np.column_stack([mean_dir, vt[: dim - 1].T]).astype(np.float32)  # (1280, dim)
    anchors = (originals @ basis).astype(np.float32)
    moves = (deltas @ basis).astype(np.float32)
    cov_chol = np.linalg.cholesky(np.cov(anchors, rowvar=False) + 1e-6 * np.eye(dim)).astype(np.float32)

    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.zipf(1.8, size=n), 200)  # many singles, a few large bursts
    sizes = sizes[np.cumsum(sizes) <= n]
    sizes = np.append(sizes, n - sizes.sum()) if sizes.sum() < n else sizes
    sizes = sizes[sizes > 0]
    scenes = len(sizes)
    a, b = rng.integers(0, len(anchors), scenes), rng.integers(0, len(anchors), scenes)
    mix = rng.uniform(0.0, 0.5, (scenes, 1)).astype(np.float32)
    centres = (1 - mix) * anchors[a] + mix * anchors[b]
    centres += 0.5 * (rng.standard_normal((scenes, dim)).astype(np.float32) @ cov_chol.T)
    out = np.empty((n, dim), dtype=np.float32)
    scene_of = np.repeat(np.arange(scenes), sizes)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        s = scene_of[start:stop]
        shots = centres[s] + moves[rng.integers(0, len(moves), stop - start)]
        shots += 0.05 * (rng.standard_normal((stop - start, dim)).astype(np.float32) @ cov_chol.T)
        out[start:stop] = shots / np.linalg.norm(shots, axis=1, keepdims=True)
    return out[rng.permutation(n)]
