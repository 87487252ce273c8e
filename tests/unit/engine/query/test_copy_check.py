"""The lazy copy decision of a collapsed search (CopyCheck) against the reference (copies_among).

Collapsed search compares only the pairs the folding asks about (a result against the results
kept above it); it must decide every one of them exactly as copies_among, which compares every
pair the first look leaves, and so fold the same results under the same photos.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import cast

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from photosearch_desktop.engine.media import signature
from photosearch_desktop.engine.media.signature import take_signature
from photosearch_desktop.engine.query.diversity import CopyCheck, copies_among, fold_near_duplicates
from photosearch_desktop.engine.records import PhotoRecord
from photosearch_desktop.engine.store.catalog import Catalog


@dataclass
class _Signatures:
    blobs: dict[int, bytes]

    def signatures(self, ids: list[int]) -> dict[int, bytes]:
        return {i: self.blobs[i] for i in ids if i in self.blobs}


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


def test_the_lazy_check_decides_every_pair_as_the_reference(library: tuple[_Signatures, dict[int, PhotoRecord]]) -> None:
    catalog, records = cast(Catalog, library[0]), library[1]
    rng = np.random.default_rng(7)
    checked_copies = checked_others = 0
    for _ in range(6):
        ids = [int(i) for i in rng.permutation(len(records))]
        # Vectors all alike: every pair is above the floor, the signatures alone decide.
        vectors = 1 + 0.01 * rng.standard_normal((len(ids), 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        reference = copies_among(catalog, ids, records, vectors, 0.5)
        lazy = CopyCheck(catalog, ids, records, vectors, 0.5)
        for pos in range(len(ids)):
            for q in range(pos):
                assert bool(lazy.among([q], pos)[0]) == bool(reference[q, pos]), (ids[q], ids[pos])
        looked = lazy.looked
        checked_copies += int((looked & reference).sum())
        checked_others += int((looked & ~reference).sum())
        for limit in (None, 3, 8):
            fresh = CopyCheck(catalog, ids, records, vectors, 0.5)
            want = fold_near_duplicates(vectors, None, limit, copies=reference)
            got = fold_near_duplicates(vectors, None, limit, copies=fresh)
            assert [(f.kept, f.folded) for f in got] == [(f.kept, f.folded) for f in want]
    # The set holds both kinds among the pairs the full comparison sees, or the test proves nothing.
    assert checked_copies > 0 and checked_others > 0, (checked_copies, checked_others)


def test_shrinking_whole_grey_levels_equals_the_mean() -> None:
    raw = np.random.default_rng(3).integers(0, 256, (50, signature.SIDE, signature.SIDE)).astype(np.float32)
    assert np.array_equal(signature._shrink_levels(raw, signature.COARSE), signature._shrink(raw, signature.COARSE))
