"""The copy decision of a collapsed search, batched over pairs, against a pair-by-pair reference.

A collapsed search decides every pair its first look leaves in one call (copies_among), each
hypothesis batched over pairs (Signatures._turned_margins, _crop_margins). The reference below
is the earlier implementation that placed one pair at a time: on generated copies and other
shots, the batched margins must equal it, so the folding is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from photosearch_desktop.engine.media import signature
from photosearch_desktop.engine.media.signature import take_signature
from photosearch_desktop.engine.query.diversity import copies_among, fold_copies, fold_near_duplicates
from photosearch_desktop.engine.records import PhotoRecord


@dataclass
class _Signatures:
    blobs: dict[int, bytes]


def _scene(seed: int, size: tuple[int, int] = (240, 180)) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[1] // 6, size[0] // 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1))


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    out = BytesIO()
    im.save(out, "JPEG", quality=quality)
    return Image.open(BytesIO(out.getvalue())).convert("RGB")


def _crop(im: Image.Image, removed: float, dx: float = 0.5) -> Image.Image:
    w, h = im.size
    cw, ch = round(w * (1 - removed)), round(h * (1 - removed))
    x, y = round((w - cw) * dx), (h - ch) // 2
    return im.crop((x, y, x + cw, y + ch))


def _library() -> list[Image.Image]:
    """Three scenes, each with copies (resized, re-encoded, cropped, turned, mirrored,
    recoloured) and other shots (the camera moved a little: a shifted crop, then resized to
    the original's size), plus unrelated pictures."""
    photos: list[Image.Image] = []
    for seed in (1, 2, 3):
        im = _scene(seed)
        wide = _scene(seed, (264, 198))
        photos += [
            im,
            im.resize((120, 90), Image.Resampling.LANCZOS),
            _jpeg(im, 40),
            _crop(im, 0.1),
            _crop(im, 0.25),
            im.rotate(4, resample=Image.Resampling.BICUBIC),
            ImageOps.mirror(im),
            ImageEnhance.Brightness(im).enhance(1.3),
            _crop(wide, 0.09, 0.0).resize(im.size, Image.Resampling.LANCZOS),  # another shot
            _crop(wide, 0.09, 1.0).resize(im.size, Image.Resampling.LANCZOS),  # another shot
            _crop(im, 0.1, 0.0),
        ]
    photos += [_scene(s) for s in (10, 11, 12)]
    return photos


@pytest.fixture(scope="module")
def library() -> tuple[_Signatures, dict[int, PhotoRecord]]:
    blobs, records = {}, {}
    for pid, im in enumerate(_library()):
        blobs[pid] = take_signature(im)
        records[pid] = PhotoRecord(pid, f"{pid}.jpg", "", 0, 0, im.width, im.height, None, None, None, None,
                                   None, None, "indexed", None)
    return _Signatures(blobs), records


def _evidence(
    catalog: _Signatures, records: dict[int, PhotoRecord], ids: list[int]
) -> tuple[list[bytes | None], list[tuple[int | None, int | None]]]:
    return [catalog.blobs.get(i) for i in ids], [(records[i].width, records[i].height) for i in ids]


# -- the reference: one pair at a time ---------------------------------------------------------


def _resample_one(img: np.ndarray, xs: np.ndarray, sx: float, ys: np.ndarray, sy: float) -> np.ndarray:
    return signature._resample_each(img[None], xs[None], np.array([sx]), ys[None], np.array([sy]))[0]


def _turned_one(sigs: signature.Signatures, a: int, b: int) -> float:
    centre, coarse = signature._CENTRE, signature.COARSE
    aspect = round(float(sigs.aspect[a]), 3)
    inner = sigs.coarse[b, centre, centre].reshape(1, -1)
    x, y = signature._turned_grid(aspect, centre.stop - centre.start, centre.start / coarse, centre.stop / coarse)
    rows = signature._sample_each(sigs.coarse[a][None], x[None], y[None])[0].reshape(len(x), -1)
    looks = signature._ncc_rows(rows, np.broadcast_to(inner, rows.shape))
    k = 1 + int(np.argmax(looks[1:]))
    if looks[k] < signature.COARSE_TURNED_MIN or looks[k] <= looks[0]:
        return -1.0
    m, side = signature._KEEP_FROM, signature.SIDE
    x, y = signature._turned_grid(aspect, side - 2 * m, m / side, 1 - m / side)
    placed = signature._sample_each(sigs.grey[a][None], x[k][None], y[k][None])
    return float(signature._margins(placed, sigs.grey[b, m : side - m, m : side - m][None], signature.TURNED_MIN)[0])


def _crop_one(sigs: signature.Signatures, outer: int, inner: int, sx: float, sy: float) -> float:
    x, y = 0.0, 0.0
    side64, coarse = signature.SIDE, signature.COARSE
    for side, pictures in ((coarse, sigs.coarse), (side64 // 2, sigs.half), (side64, sigs.grey)):
        if side == coarse:
            xs = np.arange(0.0, 1.0 - sx + 1e-9, 1.0 / side)
            ys = np.arange(0.0, 1.0 - sy + 1e-9, 1.0 / side)
        else:
            reach = (1.0 if side == side64 // 2 else 0.5) / side
            d = np.arange(-reach, reach + 1e-9, 0.5 / side)
            xs, ys = np.clip(x + d, 0.0, 1.0 - sx), np.clip(y + d, 0.0, 1.0 - sy)
        rows = _resample_one(pictures[outer], xs, sx, ys, sy).reshape(1, -1, side * side)
        looks = signature._ncc_each(rows, pictures[inner].reshape(1, -1))[0]
        k = int(np.argmax(looks))
        y, x = float(ys[k // len(xs)]), float(xs[k % len(xs)])
    placed = _resample_one(sigs.grey[outer], np.array([x]), sx, np.array([y]), sy)[0, 0]
    return float(signature._margins(placed[None], sigs.grey[inner][None], signature.SAME_MIN)[0])


def test_batched_turned_and_crop_margins_equal_the_pair_by_pair_reference(
    library: tuple[_Signatures, dict[int, PhotoRecord]],
) -> None:
    blobs, records = library[0].blobs, library[1]
    n = len(records)
    sigs = signature.Signatures([blobs[i] for i in range(n)], [(records[i].width, records[i].height) for i in range(n)])
    a, b = (x.ravel() for x in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    a, b = a[a != b], b[a != b]
    same_framing = np.abs(sigs.aspect[a] - sigs.aspect[b]) <= signature.ASPECT_TOLERANCE * sigs.aspect[a]
    t = np.flatnonzero(same_framing)
    turned = sigs._turned_margins(a[t], b[t])
    assert np.array_equal(turned, [_turned_one(sigs, int(x), int(y)) for x, y in zip(a[t], b[t], strict=True)])
    sx = (sigs.width[b] / sigs.width[a]).astype(np.float32).astype(np.float64)
    sy = (sigs.height[b] / sigs.height[a]).astype(np.float32).astype(np.float64)
    c = np.flatnonzero(signature._crop_possible(sx, sy))
    crops = sigs._crop_margins(a[c], b[c], np.minimum(sx[c], 1.0), np.minimum(sy[c], 1.0))
    want = [_crop_one(sigs, int(a[p]), int(b[p]), min(sx[p], 1.0), min(sy[p], 1.0)) for p in c]
    assert np.array_equal(crops, want)
    # Both hypotheses find copies and reject others (crops of several sizes: positions padded),
    # or the comparison proves little.
    for margins in (turned, crops):
        assert (margins >= 0).sum() > 0 and (margins < 0).sum() > 0, margins
    assert len({round(float(x), 3) for x in sx[c]}) > 1


def test_folding_with_the_copy_matrix(library: tuple[_Signatures, dict[int, PhotoRecord]]) -> None:
    """Copies fold under a kept copy ranked above them; other shots and unrelated scenes stay."""
    catalog, records = library
    rng = np.random.default_rng(7)
    others = {8, 9, 19, 20, 30, 31, 33, 34, 35}  # other shots of each scene, unrelated scenes
    for first in (True, False):
        ids = [int(i) for i in rng.permutation(len(records))]
        if first:  # each scene's original ranked first: its copies all fold under it
            ids = [0, 11, 22] + [i for i in ids if i not in (0, 11, 22)]
        # Vectors all alike: every pair is above the floor, the signatures alone decide.
        vectors = 1 + 0.01 * rng.standard_normal((len(ids), 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        copies = copies_among(*_evidence(catalog, records, ids), vectors, 0.5)
        folds = fold_near_duplicates(vectors, None, copies=copies)
        kept = {ids[f.kept] for f in folds}
        assert others <= kept
        for f in folds:
            assert all(copies[f.kept, p] and p > f.kept for p in f.folded)
            if first and ids[f.kept] in (0, 11, 22):
                assert f.folded == [int(p) for p in np.flatnonzero(copies[f.kept])], ids[f.kept]
                assert len(f.folded) >= 7
        folded = [p for f in folds for p in f.folded]
        assert sorted(folded + [f.kept for f in folds]) == list(range(len(ids)))


def test_folding_as_asked_equals_folding_with_every_pair_decided(
    library: tuple[_Signatures, dict[int, PhotoRecord]],
) -> None:
    """fold_copies decides the costly hypotheses only for the pairs the folding asks; it must
    fold exactly as the folding with every looked pair decided (copies_among)."""
    catalog, records = library
    rng = np.random.default_rng(11)
    differs = 0
    for _ in range(8):
        ids = [int(i) for i in rng.permutation(len(records))]
        vectors = 1 + 0.01 * rng.standard_normal((len(ids), 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        blobs, sizes = _evidence(catalog, records, ids)
        copies = copies_among(blobs, sizes, vectors, 0.5)
        for limit, threshold in ((None, None), (3, None), (8, None), (None, 0.9999)):
            want = fold_near_duplicates(vectors, threshold, limit, copies=copies)
            got = fold_copies(blobs, sizes, vectors, 0.5, threshold, limit)
            assert [(f.kept, f.folded) for f in got] == [(f.kept, f.folded) for f in want]
            differs += want != fold_near_duplicates(vectors, threshold, limit, copies=copies & np.eye(len(ids), dtype=bool))
    assert differs  # the copies change the folding, or the comparison proves nothing


def _block_mean(p: np.ndarray, side: int) -> np.ndarray:
    f = p.shape[1] // side
    return p.reshape(p.shape[0], side, f, side, f).mean(axis=(2, 4))


def test_shrinking_whole_grey_levels_equals_the_mean() -> None:
    raw = np.random.default_rng(3).integers(0, 256, (50, signature.SIDE, signature.SIDE)).astype(np.float32)
    assert np.array_equal(signature._shrink_levels(raw, signature.COARSE), _block_mean(raw, signature.COARSE))
    # As stored (uint8): the same means, no sum overflowing.
    shrunk = signature._shrink_levels(raw.astype(np.uint8), signature.COARSE)
    assert shrunk.dtype == np.float32 and np.array_equal(shrunk, _block_mean(raw, signature.COARSE))


@pytest.mark.parametrize("count", [1, 33])
def test_halving_blurred_pictures_equals_the_mean(count: int) -> None:
    raw = np.random.default_rng(count).integers(0, 256, (count, signature.SIDE, signature.SIDE)).astype(np.float32)
    grey = signature._blur(raw, signature.BLUR)  # not whole numbers: the order of additions counts
    half = signature._halve(grey)
    assert np.array_equal(half, _block_mean(grey, signature.SIDE // 2))
    assert np.array_equal(signature._halve(half), _block_mean(half, signature.COARSE))
