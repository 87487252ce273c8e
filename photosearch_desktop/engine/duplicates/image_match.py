"""Is one picture an edited copy of another, or another shot of the same scene?

The embedding says two photos *look alike*; it cannot tell a resized or re-encoded copy from
the next frame of a burst. This module checks pixels:

1. align the two pictures at 48 px (grey, slightly blurred) by normalised cross-correlation
   (NCC, blind to brightness and contrast), searching scale (crops up to ~35% per side),
   translation, a horizontal flip and small rotations, in both directions (either picture
   may be the crop of the other);
2. at the best few alignments, redo it finely at 128 px and compare fine detail (high-pass
   images) tile by tile. A copy keeps its detail where it was, so most tiles correlate
   strongly; another shot of the same scene moves detail (parallax, motion, lighting) even
   when the layout matches. The median over tiles ignores a few spoiled tiles (a caption,
   a clipped highlight).

Calibrated with scripts/bench_dupes.py (Copydays-style copies vs UKBench views of one object):
median tile correlation >= 0.6 held for 99-100% of copies (95% of text overlays) and 4% of
other views.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from ..media.loader import load_image

ALIGN_SIDE = 48  # coarse alignment: cheap, and blur makes it tolerant of small errors
DETAIL_SIDE = 128  # fine alignment and detail comparison
SCALES = tuple(round(1.0 - 0.025 * i, 3) for i in range(15))  # 1.0 .. 0.65 of the outer picture
ANGLES = (0.0, -5.0, 5.0)  # degrees; the fine step also tries +-1.5 around the best
KEEP = 0.8  # the inner picture's centre is compared: rotation corners and borders stay out
CANDIDATES = 3  # coarse alignments refined finely
TILES = 4  # the detail comparison uses a TILES x TILES grid
MIN_TILE_STD = 2.0  # grey levels; flatter tiles (sky, walls) carry no detail to compare
SAME_PICTURE_MIN = 0.6  # median tile correlation (see the module docstring)
FLAT_FALLBACK_MIN = 0.95  # too little detail to compare: whole-picture NCC must be near perfect
ASPECT_TOLERANCE = 0.03  # thumbnails round sizes: 3% covers that, not a crop


@dataclass(frozen=True)
class Thumb:
    """A picture prepared for comparison (grey, two sizes). Build once per photo."""

    coarse: Image.Image
    fine: Image.Image


@dataclass(frozen=True)
class _Alignment:
    outer_is_a: bool  # True: b (possibly cropped) lies inside a
    flip: bool
    angle: float
    scale: float
    # Top-left of the inner picture in the outer one, in pixels of the coarse size; None: centred.
    y: float | None = None
    x: float | None = None


def prepare(image: Image.Image) -> Thumb:
    grey = image.convert("L")
    return Thumb(
        coarse=_fit(grey, ALIGN_SIDE).filter(ImageFilter.GaussianBlur(1.0)),
        fine=_fit(grey, DETAIL_SIDE),
    )


def load_thumb(path: Path) -> Thumb:
    """Decode a photo just large enough for :func:`prepare` (raises LoadError)."""
    return prepare(load_image(path, min_side=DETAIL_SIDE).image)


def same_picture_score(a: Thumb, b: Thumb, search: bool = True) -> float:
    """Median tile correlation of fine detail at the best alignment (-1..1).

    Without ``search`` only the pictures as they are (same framing: resized, re-encoded,
    recoloured copies) are compared, about 20x faster.
    """
    score = -1.0
    if _aspect_close(a.fine, b.fine):
        # Resized, re-encoded, recoloured copies (the common case) align as they are.
        score = _refine(a, b, _Alignment(True, False, 0.0, 1.0), pad=2, angles=(0.0,))
        if score >= SAME_PICTURE_MIN:
            return score
    if not search:
        return score
    for alignment in _coarse_candidates(a.coarse, b.coarse)[:CANDIDATES]:
        score = max(score, _refine(a, b, alignment, pad=4))
        if score >= SAME_PICTURE_MIN:
            break
    return score


def is_same_picture(a: Thumb, b: Thumb, search: bool = True) -> bool:
    return same_picture_score(a, b, search) >= SAME_PICTURE_MIN


def aspect_close(width_a: int, height_a: int, width_b: int, height_b: int) -> bool:
    """Whether two photos could be the same picture without a crop (see ``search``)."""
    return abs(width_a / height_a - width_b / height_b) <= ASPECT_TOLERANCE * (width_a / height_a)


# -- alignment ---------------------------------------------------------------------------------


def _fit(grey: Image.Image, side: int) -> Image.Image:
    s = side / max(grey.size)
    return grey.resize((max(8, round(grey.width * s)), max(8, round(grey.height * s))), Image.Resampling.BOX)


def _aspect_close(a: Image.Image, b: Image.Image) -> bool:
    return aspect_close(a.width, a.height, b.width, b.height)


def _variant(inner: Image.Image, flip: bool, angle: float) -> Image.Image:
    if flip:
        inner = inner.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if angle:
        inner = inner.rotate(angle, resample=Image.Resampling.BILINEAR)
    w, h = inner.size
    cw, ch = round(w * KEEP), round(h * KEEP)
    return inner.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))


def _placed_size(outer: Image.Image, inner: Image.Image, part: Image.Image, scale: float) -> tuple[int, int]:
    """Size of ``part`` (the central crop of ``inner``) when ``inner`` spans ``scale`` of ``outer``."""
    fit = min(outer.width / inner.width, outer.height / inner.height)
    return round(part.width * fit * scale), round(part.height * fit * scale)


def _ncc_map(outer: np.ndarray, template: np.ndarray) -> np.ndarray | None:
    """NCC of ``template`` at every position inside ``outer``."""
    h, w = template.shape
    t = template - template.mean()
    norm = float(np.linalg.norm(t))
    if norm < 1e-6:
        return None
    t /= norm
    # Correlation by FFT: the positions where the template lies inside never wrap around.
    H, W = outer.shape
    spectrum = np.fft.rfft2(outer) * np.conj(np.fft.rfft2(t, s=(H, W)))
    dots = np.fft.irfft2(spectrum, s=(H, W))[: H - h + 1, : W - w + 1]
    # Window sums from integral images: each window's own mean and spread.
    padded = np.pad(outer.astype(np.float64), ((1, 0), (1, 0)))  # float64: sums of squares cancel
    c1 = padded.cumsum(0).cumsum(1)
    c2 = (padded * padded).cumsum(0).cumsum(1)

    def box(c: np.ndarray) -> np.ndarray:
        return c[h:, w:] - c[:-h, w:] - c[h:, :-w] + c[:-h, :-w]

    s1, s2 = box(c1), box(c2)
    spread = np.sqrt(np.maximum(s2 - s1 * s1 / (h * w), 1e-6))
    return dots / spread


def _coarse_candidates(a: Image.Image, b: Image.Image) -> list[_Alignment]:
    """The best alignment per (direction, flip, angle), best first."""
    found: list[tuple[float, _Alignment]] = []
    for outer, inner, outer_is_a in ((a, b, True), (b, a, False)):
        o = np.asarray(outer, dtype=np.float32)
        for flip in (False, True):
            for angle in ANGLES:
                part = _variant(inner, flip, angle)
                best: tuple[float, _Alignment] | None = None
                for scale in SCALES:
                    w, h = _placed_size(outer, inner, part, scale)
                    if w < 6 or h < 6 or w > outer.width or h > outer.height:
                        continue
                    m = _ncc_map(o, np.asarray(part.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32))
                    if m is None:
                        continue
                    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
                    if best is None or m[y, x] > best[0]:
                        best = (float(m[y, x]), _Alignment(outer_is_a, flip, angle, scale, float(y), float(x)))
                if best:
                    found.append(best)
    found.sort(key=lambda f: -f[0])
    return [alignment for _, alignment in found]


def _refine(a: Thumb, b: Thumb, coarse: _Alignment, pad: int, angles: tuple[float, ...] = (-1.5, 0.0, 1.5)) -> float:
    """Fine alignment near ``coarse`` at DETAIL_SIDE, then the detail score there."""
    outer, inner = (a.fine, b.fine) if coarse.outer_is_a else (b.fine, a.fine)
    coarse_outer = a.coarse if coarse.outer_is_a else b.coarse
    ratio = outer.width / coarse_outer.width
    o = np.asarray(outer, dtype=np.float32)
    pad += int(round(ratio))
    best: tuple[float, tuple[int, int, int, int], Image.Image] | None = None
    for angle in (coarse.angle + delta for delta in angles):
        part = _variant(inner, coarse.flip, angle)
        for step in (-2, -1, 0, 1, 2):
            w, h = _placed_size(outer, inner, part, coarse.scale * (1 + 0.0125 * step))
            if w < 8 or h < 8 or w > outer.width or h > outer.height:
                continue
            if coarse.y is None or coarse.x is None:
                y0, x0 = (outer.height - h) // 2, (outer.width - w) // 2
            else:
                y0, x0 = int(round(coarse.y * ratio)), int(round(coarse.x * ratio))
            ys, xs = max(0, y0 - pad), max(0, x0 - pad)
            ye, xe = min(outer.height - h, y0 + pad), min(outer.width - w, x0 + pad)
            if ye < ys or xe < xs:
                continue
            placed = part.resize((w, h), Image.Resampling.BILINEAR)
            m = _ncc_map(o[ys : ye + h, xs : xe + w], np.asarray(placed, dtype=np.float32))
            if m is None:
                continue
            y, x = np.unravel_index(int(np.argmax(m)), m.shape)
            if best is None or m[y, x] > best[0]:
                best = (float(m[y, x]), (xs + int(x), ys + int(y), w, h), placed)
    if best is None:
        return -1.0
    whole, (left, top, width, height), placed = best
    return _detail_score(outer.crop((left, top, left + width, top + height)), placed, whole)


def _detail_score(p: Image.Image, q: Image.Image, whole: float) -> float:
    """Median NCC of high-pass detail over a grid of tiles of two aligned pictures."""
    hp_p = _high_pass(p)
    hp_q = _high_pass(q)
    h, w = hp_p.shape
    scores = []
    for i in range(TILES):
        for j in range(TILES):
            rows, cols = slice(i * h // TILES, (i + 1) * h // TILES), slice(j * w // TILES, (j + 1) * w // TILES)
            tp, tq = hp_p[rows, cols].ravel(), hp_q[rows, cols].ravel()
            tp, tq = tp - tp.mean(), tq - tq.mean()
            sp, sq = float(tp.std()), float(tq.std())
            if sp >= MIN_TILE_STD and sq >= MIN_TILE_STD:
                scores.append(float((tp * tq).mean()) / (sp * sq))
    if len(scores) < TILES:
        # Almost no texture (fog, a wall): only a near-perfect overall match counts.
        return 1.0 if whole >= FLAT_FALLBACK_MIN else 0.0
    return float(np.median(scores))


def _high_pass(im: Image.Image) -> np.ndarray:
    return np.asarray(im, dtype=np.float32) - np.asarray(im.filter(ImageFilter.GaussianBlur(2.0)), dtype=np.float32)
