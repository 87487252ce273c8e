"""Pixel signatures: is one photo a copy of another, or another shot of the same scene?

An embedding says two photos *look alike*; it cannot tell a resized, re-encoded or cropped copy
from the next frame of a burst. So every photo keeps a signature, taken at index time from the
picture already decoded for the model: its grey levels at SIDE x SIDE (the whole frame, squashed
to a square: 4 KB). Two signatures are compared without decoding anything, under a few exact
hypotheses of how a copy is made, never a free search:

- the same framing (the aspect ratios agree): resized, re-encoded, recoloured, captioned
  copies, also mirrored, or turned by a few degrees;
- a crop at the original resolution: the smaller photo's pixel size gives the scale, only the
  position is searched (coarse to fine).

Under the hypothesis the two pictures are sampled on the same grid and their fine detail
(high-pass) compared tile by tile: a copy keeps its detail where it was, so the median tile
correlates strongly; another shot moves detail (parallax, motion, a step of the camera) even
when the layout matches. Allowing no free shift or scale is what keeps near-identical shots
out: they differ by a small move that no hypothesis grants.

Calibrated with scripts/bench_dupes.py on library-dev's Copydays-style copies against UKBench
(other views of one object): at 64 px the median tile correlation of copies is >= 0.78 for 99 %
of each transform (crops lowest), of other views at most 0.54; at 48 px the views reach 0.70
and crops fall to 0.80, at 32 px the two overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

SIDE = 64  # the stored grey picture is SIDE x SIDE (4 KB)
DECODE_MIN_SIDE = SIDE  # a photo decoded for its signature alone is at least this big
_VERSION = 1  # first byte of a stored signature
_SIZE = 1 + SIDE * SIDE

BLUR = 0.6  # pixels: evens out resampling differences between a photo and its copies
DETAIL_BLUR = 1.0  # fine detail = the picture minus this blur of it
TILES = 4  # detail compared on a TILES x TILES grid
MIN_TILE_STD = 1.0  # grey levels of detail; flatter tiles (sky, walls) carry none to compare
MIN_TILES = 4  # fewer detailed tiles than this: the picture counts as flat
SAME_MIN = 0.72  # median tile correlation of a copy, same framing or crop (module docstring)
TURNED_MIN = 0.80  # the same for a copy turned by a few degrees: more freedom, a higher bar
FLAT_MIN = 0.985  # a flat picture: its whole grey picture must correlate this well (same framing)
ASPECT_TOLERANCE = 0.03  # aspect ratios this close are the same framing (sizes are rounded)
ANGLES = (-5.0, -2.5, 2.5, 5.0)  # degrees a copy may have been turned
_KEEP_FROM = 6  # a turned copy is compared on its centre, 52 px of 64 (its corners are new)
CROP_MIN = 0.5  # a crop keeps at least half of each side
# A first look at 16 px (correlation of the blurred grey, whole or centre): below these a pair
# is no turned copy, or no crop, under any position. On the calibration set the lowest copy
# scored 0.69 (turned, centre) and 0.46 (a 25 % crop, centred guess); most other views score
# less, and most look-alikes far less.
COARSE = 16
COARSE_SAME_MIN = 0.6
COARSE_TURNED_MIN = 0.6
COARSE_CROP_MIN = 0.4
_CENTRE = slice(COARSE // 8, COARSE - COARSE // 8)  # 3/4 of each side, at 16 px


def take_signature(image: Image.Image) -> bytes:
    """The signature of a decoded, upright picture (what the catalog stores)."""
    grey = image.resize((SIDE, SIDE), Image.Resampling.BOX, reducing_gap=3.0).convert("L")
    return bytes([_VERSION]) + grey.tobytes()


def same_picture(a: bytes | None, a_size: tuple[int, int], b: bytes | None, b_size: tuple[int, int]) -> bool:
    """Whether two stored signatures (with their photos' pixel sizes) show the same picture."""
    return bool(copy_margins([a, b], [a_size, b_size], np.array([0]), np.array([1]))[0] >= 0)


def copy_margins(
    blobs: Sequence[bytes | None], sizes: Sequence[tuple[int | None, int | None]], i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """:meth:`Signatures.margins` of pairs (i[p], j[p]) of these photos: the first look for
    all, the full comparison prepared only for the photos of the pairs it leaves."""
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    out = np.full(len(i), -1.0, dtype=np.float32)
    keep = np.flatnonzero(Looks.of(blobs, sizes).pairs(i, j))
    if len(keep):
        needed, local = np.unique(np.concatenate([i[keep], j[keep]]), return_inverse=True)
        sigs = Signatures([blobs[k] for k in needed], [sizes[k] for k in needed])
        out[keep] = sigs.margins(local[: len(keep)], local[len(keep) :])
    return out


def _unpack(
    blobs: Sequence[bytes | None], sizes: Sequence[tuple[int | None, int | None]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(width, height, valid, grey pictures (n, SIDE, SIDE) float32: zeros where not valid)."""
    width, height, valid, raw = _unpack_levels(blobs, sizes)
    return width, height, valid, raw.astype(np.float32)


def _unpack_levels(
    blobs: Sequence[bytes | None], sizes: Sequence[tuple[int | None, int | None]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_unpack` with the grey levels as stored (uint8)."""
    width = np.array([w or 0 for w, _ in sizes], dtype=np.float64)
    height = np.array([h or 0 for _, h in sizes], dtype=np.float64)
    ok = [b is not None and len(b) == _SIZE and b[0] == _VERSION for b in blobs]
    valid = np.array(ok, dtype=bool) & (width > 0) & (height > 0)
    blank = bytes(_SIZE)
    raw = np.frombuffer(b"".join(b if b is not None and good else blank for b, good in zip(blobs, ok, strict=True)),
                        dtype=np.uint8)
    grey = raw.reshape(len(blobs), _SIZE)[:, 1:].reshape(len(blobs), SIDE, SIDE)
    if not valid.all():
        grey = grey.copy()
        grey[~valid] = 0
    return width, height, valid, grey


@dataclass(frozen=True)
class Looks:
    """What the first look needs of each photo (1 KB): its picture at 16 px and its size."""

    valid: np.ndarray  # (n,) bool: a signature and a size to compare
    width: np.ndarray  # (n,) float64
    height: np.ndarray
    coarse: np.ndarray  # (n, COARSE, COARSE) float32

    @classmethod
    def of(cls, blobs: Sequence[bytes | None], sizes: Sequence[tuple[int | None, int | None]]) -> Looks:
        width, height, valid, raw = _unpack_levels(blobs, sizes)
        return cls(valid, width, height, _shrink_levels(raw, COARSE))

    @classmethod
    def concatenate(cls, parts: Sequence[Looks]) -> Looks:
        if not parts:
            return cls.of([], [])
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("valid", "width", "height", "coarse")))

    @property
    def aspect(self) -> np.ndarray:
        return self.width / np.maximum(self.height, 1)

    def pairs(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Which pairs (i[p], j[p]) may be copies under some hypothesis, from their 16 px
        pictures alone (all pairs at once: a few microseconds each). A copy of the same
        framing correlates >= COARSE_SAME_MIN as it is or mirrored, or >= COARSE_TURNED_MIN
        on its centre; a crop >= COARSE_CROP_MIN placed centred."""
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        ok = self.valid[i] & self.valid[j]
        out = np.zeros(len(i), dtype=bool)
        aspect = self.aspect
        framing = np.flatnonzero(ok & (np.abs(aspect[i] - aspect[j]) <= ASPECT_TOLERANCE * aspect[i]))
        if len(framing):
            a, b = self.coarse[i[framing]], self.coarse[j[framing]]
            n, mid = len(framing), _CENTRE
            look = np.maximum(_ncc_rows(a.reshape(n, -1), b.reshape(n, -1)),
                              _ncc_rows(a.reshape(n, -1), b[:, :, ::-1].reshape(n, -1)))
            centre = _ncc_rows(a[:, mid, mid].reshape(n, -1), b[:, mid, mid].reshape(n, -1))
            out[framing] = (look >= COARSE_SAME_MIN) | (centre >= COARSE_TURNED_MIN)
        for outer, inner in ((i, j), (j, i)):
            crops = np.flatnonzero(ok & ~out & self._crop_possible(outer, inner))
            out[crops] = self._crop_looks(outer[crops], inner[crops])
        return out

    def _crop_possible(self, outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
        sx, sy = self.width[inner] / np.maximum(self.width[outer], 1), self.height[inner] / np.maximum(self.height[outer], 1)
        return _crop_possible(sx, sy)

    def _crop_looks(self, outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
        """Whether each ``inner[p]`` may be a crop of ``outer[p]`` (sizes allowing one): placed
        centred at 16 px it correlates >= COARSE_CROP_MIN."""
        if not len(outer):
            return np.zeros(0, dtype=bool)
        cx = (self.width[inner] / np.maximum(self.width[outer], 1)).astype(np.float32).reshape(-1, 1, 1)
        cy = (self.height[inner] / np.maximum(self.height[outer], 1)).astype(np.float32).reshape(-1, 1, 1)
        u, v = _grid(COARSE)
        centred = _sample_each(self.coarse[outer], (1 - cx) / 2 + cx * u, (1 - cy) / 2 + cy * v)
        look = _ncc_rows(centred.reshape(len(outer), -1), self.coarse[inner].reshape(len(outer), -1))
        return np.asarray(look >= COARSE_CROP_MIN)

    def matrix(self, asked: np.ndarray | None = None) -> np.ndarray:
        """:meth:`pairs` of every pair at once (or of the pairs ``asked``, (n, n) symmetric),
        (n, n) and symmetric: the same framing as products of normalised 16 px pictures (cheap
        for a list of results), crops pair by pair for the few pairs asked whose sizes allow
        one, each in the one direction they allow (a crop is smaller than what it is cut from)."""
        n = len(self.valid)
        whole = _unit_rows(self.coarse.reshape(n, -1))
        mirrored = _unit_rows(self.coarse[:, :, ::-1].reshape(n, -1))
        centre = _unit_rows(self.coarse[:, _CENTRE, _CENTRE].reshape(n, -1))
        aspect = self.aspect[:, None]
        framing = np.abs(aspect - aspect.T) <= ASPECT_TOLERANCE * np.maximum(aspect, aspect.T)
        look = (np.maximum(whole @ whole.T, whole @ mirrored.T) >= COARSE_SAME_MIN) | (centre @ centre.T >= COARSE_TURNED_MIN)
        out = framing & look
        if asked is not None:
            out &= asked
        sx = self.width[None, :] / np.maximum(self.width[:, None], 1)  # column photo inside row photo
        sy = self.height[None, :] / np.maximum(self.height[:, None], 1)
        both = self.valid[:, None] & self.valid[None, :]
        crops = ~out & _crop_possible(sx, sy) & both
        if asked is not None:
            crops &= asked
        i, j = np.nonzero(crops)
        out[i, j] = self._crop_looks(i, j)
        return (out | out.T) & both & ~np.eye(n, dtype=bool)


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.sqrt((rows * rows).sum(axis=1, keepdims=True)), 1e-6)


def _crop_possible(sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """Whether a photo covering (sx, sy) of another's width and height may be a crop of it at
    the same resolution (not the same size: that is the same framing)."""
    return (sx <= 1.001) & (sy <= 1.001) & (np.minimum(sx, sy) >= CROP_MIN) & ((sx <= 0.995) | (sy <= 0.995))


class Signatures:
    """The signatures of some photos (by position), prepared for comparing pairs of them.

    Preparing costs ~33 KB and some 60 microseconds a photo, done for all at once: callers
    prepare only the photos that the first look (:class:`Looks`) leaves.
    """

    def __init__(self, blobs: Sequence[bytes | None], sizes: Sequence[tuple[int | None, int | None]]) -> None:
        self.width, self.height, self.valid, raw = _unpack(blobs, sizes)
        self.aspect = np.where(self.valid, self.width / np.maximum(self.height, 1), 0.0)
        self.grey = _blur(raw, BLUR)
        # Detail by tile (n, TILES, TILES, t, t), each tile centred and of unit length: a
        # tile's correlation is a dot product.
        self.detail, self.spread = _unit_tiles(self.grey - _blur(self.grey, DETAIL_BLUR))
        self.half = _halve(self.grey)
        self.coarse = _halve(self.half)

    def __len__(self) -> int:
        return len(self.valid)

    def same(self, i: np.ndarray, j: np.ndarray, framing: bool = True, others: bool = True) -> np.ndarray:
        """Whether photos ``i[p]`` and ``j[p]`` show the same picture, for every p."""
        return self.margins(i, j, framing, others) >= 0

    def margins(self, i: np.ndarray, j: np.ndarray, framing: bool = True, others: bool = True) -> np.ndarray:
        """How far each pair lies above (>= 0: a copy) or below the bar of its best hypothesis.

        The same framing, as it is and mirrored (``framing``), is decided for all pairs at
        once (dot products of detail tiles: microseconds a pair); a turned copy or a crop
        (``others``) is tried for the pairs a first look at 16 px leaves (a millisecond or two
        each).
        """
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        out = np.full(len(i), -1.0, dtype=np.float32)
        ok = self.valid[i] & self.valid[j]
        same_framing = ok & (np.abs(self.aspect[i] - self.aspect[j]) <= ASPECT_TOLERANCE * self.aspect[i])
        f = np.flatnonzero(same_framing) if framing else np.zeros(0, np.int64)
        for start in range(0, len(f), _PAIR_CHUNK):
            part = f[start : start + _PAIR_CHUNK]
            out[part] = self._framing_margins(i[part], j[part])
        if not others:
            return out
        turn = np.flatnonzero(same_framing & (out < 0))
        if len(turn):
            # The centre at 16 px, as it is: a few degrees barely change it.
            look = _ncc_rows(self.coarse[i[turn], _CENTRE, _CENTRE].reshape(len(turn), -1),
                             self.coarse[j[turn], _CENTRE, _CENTRE].reshape(len(turn), -1))
            turn = turn[look >= COARSE_TURNED_MIN]
            for start in range(0, len(turn), _PAIR_CHUNK_FINE):
                part = turn[start : start + _PAIR_CHUNK_FINE]
                out[part] = np.maximum(out[part], self._turned_margins(i[part], j[part]))
        for outer_all, inner_all in ((i, j), (j, i)):
            sx = self.width[inner_all] / np.maximum(self.width[outer_all], 1)
            sy = self.height[inner_all] / np.maximum(self.height[outer_all], 1)
            crops = np.flatnonzero(ok & (out < 0) & _crop_possible(sx, sy))
            if not len(crops):
                continue
            cx = np.minimum(sx[crops], 1.0).astype(np.float32).reshape(-1, 1, 1)
            cy = np.minimum(sy[crops], 1.0).astype(np.float32).reshape(-1, 1, 1)
            u, v = _grid(COARSE)
            centred = _sample_each(self.coarse[outer_all[crops]], (1 - cx) / 2 + cx * u, (1 - cy) / 2 + cy * v)
            look = _ncc_rows(centred.reshape(len(crops), -1), self.coarse[inner_all[crops]].reshape(len(crops), -1))
            passed = np.flatnonzero(look >= COARSE_CROP_MIN)
            for start in range(0, len(passed), _PAIR_CHUNK_FINE):
                k = passed[start : start + _PAIR_CHUNK_FINE]
                p = crops[k]
                margin = self._crop_margins(outer_all[p], inner_all[p], cx[k, 0, 0].astype(np.float64),
                                            cy[k, 0, 0].astype(np.float64))
                out[p] = np.maximum(out[p], margin)
        return out

    def _framing_margins(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Same framing, as it is and mirrored: median tile correlation of detail, less
        SAME_MIN; flat pictures: whole-picture correlation, less FLAT_MIN."""
        best = np.full(len(i), -1.0, dtype=np.float32)
        for mirrored in (False, True):
            # Mirrored: the tiles' columns reversed, and each tile's columns.
            dj = self.detail[j][:, :, ::-1, :, ::-1] if mirrored else self.detail[j]
            sj = self.spread[j][:, :, ::-1] if mirrored else self.spread[j]
            scores = (self.detail[i] * dj).reshape(len(i), TILES, TILES, -1).sum(axis=3)
            detailed = (self.spread[i] >= MIN_TILE_STD) & (sj >= MIN_TILE_STD)
            enough = detailed.reshape(len(i), -1).sum(axis=1) >= MIN_TILES
            margin = np.full(len(i), -1.0, dtype=np.float32)
            if enough.any():
                margin[enough] = _median_where(scores[enough].reshape(-1, TILES * TILES),
                                               detailed[enough].reshape(-1, TILES * TILES)) - SAME_MIN
            flat = np.flatnonzero(~enough)  # almost no detail (fog, a plain wall)
            if len(flat):
                gj = self.grey[j[flat]][:, :, ::-1] if mirrored else self.grey[j[flat]]
                margin[flat] = _ncc_rows(self.grey[i[flat]].reshape(len(flat), -1), gj.reshape(len(flat), -1)) - FLAT_MIN
            best = np.maximum(best, margin)
        return best

    def _turned_margins(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``b[p]`` turned by one of ANGLES relative to ``a[p]``, compared on its centre, for
        every pair at once. The angle is chosen at 16 px, and only one that matches better
        than none at all is tried (a crop or another shot gains nothing by turning; a turned
        copy does, on the calibration set by 0.003 at least). Pair by pair this took ~1 ms a
        pair, nearly all of it numpy's cost per call on 16 to 64 px arrays."""
        out = np.full(len(a), -1.0, dtype=np.float64)
        aspects = [round(float(x), 3) for x in self.aspect[a]]
        lo, hi = _CENTRE.start / COARSE, _CENTRE.stop / COARSE
        m = _CENTRE.stop - _CENTRE.start
        coarse_grids = [_turned_grid(x, m, lo, hi) for x in aspects]
        x = np.stack([g[0] for g in coarse_grids])  # (pairs, angles, m, m)
        y = np.stack([g[1] for g in coarse_grids])
        rows = _sample_each(self.coarse[a], x, y).reshape(len(a) * x.shape[1], -1)
        inner = np.repeat(self.coarse[b, _CENTRE, _CENTRE].reshape(len(a), -1), x.shape[1], axis=0)
        looks = _ncc_rows(rows, inner).reshape(len(a), x.shape[1])
        k = 1 + np.argmax(looks[:, 1:], axis=1)
        best = looks[np.arange(len(a)), k]
        turned = np.flatnonzero((best >= COARSE_TURNED_MIN) & (best > looks[:, 0]))
        if not len(turned):
            return out
        keep = slice(_KEEP_FROM, SIDE - _KEEP_FROM)
        m, lo, hi = SIDE - 2 * _KEEP_FROM, _KEEP_FROM / SIDE, 1 - _KEEP_FROM / SIDE
        fine = [_turned_grid(aspects[p], m, lo, hi) for p in turned]
        x = np.stack([g[0][k[p]] for g, p in zip(fine, turned, strict=True)])  # (turned, m, m)
        y = np.stack([g[1][k[p]] for g, p in zip(fine, turned, strict=True)])
        placed = _sample_each(self.grey[a[turned]], x, y)
        out[turned] = _margins(placed, self.grey[b[turned]][:, keep, keep], TURNED_MIN)
        return out

    def _crop_margins(self, outer: np.ndarray, inner: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
        """``inner[p]`` as a crop of ``outer[p]`` covering (sx[p], sy[p]) of it, for every pair
        at once: placed at every whole pixel at 16 px, then to half pixels around the best at 32
        and 64 px. Resampling a crop is separable: each level is two batched matrix products
        for all pairs and positions. At 16 px the number of positions depends on the crop's
        size: each pair's list is padded with its last position, which repeats a place already
        scored and so changes no choice."""
        n = len(outer)
        x, y = np.zeros(n), np.zeros(n)
        levels = ((COARSE, self.coarse), (SIDE // 2, self.half), (SIDE, self.grey))
        for side, pictures in levels:
            if side == COARSE:
                xs, ys = _whole_pixel_starts(sx), _whole_pixel_starts(sy)
            else:
                reach = (1.0 if side == SIDE // 2 else 0.5) / side
                d = np.arange(-reach, reach + 1e-9, 0.5 / side)
                xs = np.clip(x[:, None] + d, 0.0, (1.0 - sx)[:, None])
                ys = np.clip(y[:, None] + d, 0.0, (1.0 - sy)[:, None])
            placed = _resample_each(pictures[outer], xs, sx, ys, sy)  # (n, len(ys), len(xs), side, side)
            looks = _ncc_each(placed.reshape(n, -1, side * side), pictures[inner].reshape(n, -1))
            k = np.argmax(looks, axis=1)
            y, x = ys[np.arange(n), k // xs.shape[1]], xs[np.arange(n), k % xs.shape[1]]
        best = placed[np.arange(n), k // xs.shape[1], k % xs.shape[1]]  # the last level is at SIDE px
        return _margins(best, self.grey[inner], SAME_MIN, (self.detail[inner], self.spread[inner]))


_PAIR_CHUNK_FINE = 64  # pairs turned or placed as a crop at once (~20 MB of placed pictures)
_PAIR_CHUNK = 2048  # pairs compared at once on the same framing (~32 MB of products)


@cache
def _turned_grid(aspect: float, m: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The m x m grid over [lo, hi]^2 of a picture of ``aspect``, turned about its centre by
    0 degrees and by each of ANGLES: (x, y), each (1 + len(ANGLES), m, m)."""
    u, v = _grid(m, lo, hi)
    px, py = (u - 0.5) * aspect, v - 0.5
    t = np.deg2rad(np.array((0.0, *ANGLES), dtype=np.float32)).reshape(-1, 1, 1)
    x = (0.5 + (np.cos(t) * px - np.sin(t) * py) / aspect).astype(np.float32)
    y = (0.5 + np.sin(t) * px + np.cos(t) * py).astype(np.float32)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _margins(
    p: np.ndarray, q: np.ndarray, minimum: float, q_tiles: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Pairs of pictures (n, m, m), each pair sampled on one grid: the median tile correlation
    of their fine detail, less ``minimum``; -1 where too few tiles have detail (only the same
    framing decides those). ``q_tiles``: :func:`_unit_tiles` of ``q``'s detail, where known."""
    tp, sp = _unit_tiles(p - _blur(p, DETAIL_BLUR))
    tq, sq = q_tiles if q_tiles is not None else _unit_tiles(q - _blur(q, DETAIL_BLUR))
    n = len(p)
    scores = (tp * tq).reshape(n, TILES * TILES, -1).sum(axis=2)
    detailed = ((sp >= MIN_TILE_STD) & (sq >= MIN_TILE_STD)).reshape(n, -1)
    enough = detailed.sum(axis=1) >= MIN_TILES
    out = np.full(n, -1.0, dtype=np.float64)
    if enough.any():
        out[enough] = _median_where(scores[enough], detailed[enough]).astype(np.float64) - minimum
    return out


# -- small numerics ------------------------------------------------------------------------------


def _unit_tiles(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Square pictures (n, m, m), m = TILES t: their tiles (n, TILES, TILES, t, t), each
    centred and scaled to unit length (so the dot product of two tiles is their correlation),
    and each tile's spread (n, TILES, TILES). Tile by tile in memory: reductions over two
    strided axes of the picture took 2.4 times as long."""
    n, m = p.shape[0], p.shape[1]
    t = m // TILES
    tiles = p.reshape(n, TILES, t, TILES, t).transpose(0, 1, 3, 2, 4).reshape(n, TILES, TILES, t * t)
    tiles = tiles - tiles.mean(axis=3, keepdims=True)
    norm = np.sqrt(np.einsum("...i,...i->...", tiles, tiles))
    unit = tiles / np.maximum(norm, 1e-6)[..., None]
    return unit.reshape(n, TILES, TILES, t, t).astype(np.float32), (norm / t).astype(np.float32)


def _halve(p: np.ndarray) -> np.ndarray:
    """(n, m, m) pictures at m / 2, by means of 2 x 2 blocks: equal bit for bit to numpy's mean
    over the two block axes (the same additions in the same order), 13 times faster (0.13 ms
    for 33 pictures at 64 px, where the mean over two strided axes took 1.7 ms)."""
    n, m = p.shape[0], p.shape[1]
    b = p.reshape(n, m // 2, 2, m // 2, 2)
    return ((b[:, :, 0, :, 0] + b[:, :, 0, :, 1]) + (b[:, :, 1, :, 0] + b[:, :, 1, :, 1])) / np.float32(4)


def _shrink_levels(p: np.ndarray, side: int) -> np.ndarray:
    """Block means (float32) of whole grey levels, as stored (uint8) or as float32: numpy's
    mean over the two block axes, 7 times faster (0.5 ms for 120 pictures, where numpy's mean
    over two strided axes took 3.5 ms), and equal to it bit for bit: sums of whole numbers
    below 2^24 are exact in any order, and the divisor is a power of two."""
    n, m = p.shape[0], p.shape[1]
    f = m // side
    cols = p.reshape(n, m, side, f)
    across = cols[..., 0].astype(np.float32)
    for k in range(1, f):
        across += cols[..., k]
    rows = across.reshape(n, side, f, side)
    out = rows[:, :, 0].copy()
    for k in range(1, f):
        out += rows[:, :, k]
    return out / np.float32(f * f)


@cache
def _grid(m: int, lo: float = 0.0, hi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Centres of an m x m grid over [lo, hi]^2, in parts of the picture: (x, y)."""
    c = lo + (np.arange(m, dtype=np.float32) + 0.5) * (hi - lo) / m
    x, y = np.meshgrid(c, c)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _median_where(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per row, the median of ``values`` where ``keep`` (every row keeps at least one)."""
    s = np.sort(np.where(keep, values, np.inf), axis=1)
    k = keep.sum(axis=1)
    lo = np.take_along_axis(s, ((k - 1) // 2)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(s, (k // 2)[:, None], axis=1)[:, 0]
    return (lo + hi) / 2


def _sample_each(imgs: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of each square picture ``imgs[p]`` at (x[p], y[p]) (broadcast)."""
    count, n = imgs.shape[0], imgs.shape[1]
    x, y = np.broadcast_arrays(x, y)
    px = np.clip(x * n - 0.5, 0.0, n - 1.0001)
    py = np.clip(y * n - 0.5, 0.0, n - 1.0001)
    x0, y0 = px.astype(np.int64), py.astype(np.int64)
    fx, fy = (px - x0).astype(np.float32), (py - y0).astype(np.float32)
    base = (np.arange(count) * n * n).reshape((count,) + (1,) * (x.ndim - 1))
    flat = imgs.reshape(-1)
    i = base + y0 * n + x0
    top = flat[i] * (1 - fx) + flat[i + 1] * fx
    bottom = flat[i + n] * (1 - fx) + flat[i + n + 1] * fx
    return top * (1 - fy) + bottom * fy


def _whole_pixel_starts(span: np.ndarray) -> np.ndarray:
    """(pairs, k): for each crop covering ``span`` of an axis, where it may start at 16 px:
    every whole pixel from 0 to 1 - span (the values of np.arange(0, 1 - span + 1e-9, 1/16)),
    each row padded with its last start."""
    step = 1.0 / COARSE
    count = np.ceil((1.0 - span + 1e-9) / step).astype(np.int64)  # np.arange's length
    starts = np.arange(int(count.max())) * step
    return np.minimum(starts[None, :], ((count - 1) * step)[:, None])


def _axis_weights(starts: np.ndarray, span: np.ndarray, m: int, n: int) -> np.ndarray:
    """(pairs, k, m, n): for each pair's ``starts`` (pairs, k) and ``span`` (pairs,), bilinear
    weights that sample m points over [start, start + span] (in parts of an axis of n pixels)
    from that axis."""
    c = (starts[:, :, None] + span[:, None, None] * (np.arange(m) + 0.5) / m).ravel()
    pos = np.clip(c * n - 0.5, 0.0, n - 1.0)
    left = np.minimum(pos.astype(np.int64), n - 2)
    frac = (pos - left).astype(np.float32)
    w = np.zeros((len(c), n), dtype=np.float32)
    rows = np.arange(len(c))
    w[rows, left] = 1 - frac
    w[rows, left + 1] = frac
    return w.reshape(starts.shape[0], starts.shape[1], m, n)


def _resample_each(imgs: np.ndarray, xs: np.ndarray, sx: np.ndarray, ys: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """Each square picture ``imgs[p]`` resampled (bilinear) over [x, x + sx[p]] x [y, y + sy[p]]
    at its own size, for every x in ``xs[p]`` and y in ``ys[p]``: (pairs, ky, kx, n, n)."""
    n = imgs.shape[1]
    wy = _axis_weights(ys, sy, n, n)  # (pairs, ky, n, n)
    wx = _axis_weights(xs, sx, n, n)  # (pairs, kx, n, n)
    rows = np.matmul(wy, imgs[:, None])  # (pairs, ky, n, n): rows placed
    return np.matmul(rows[:, :, None], wx.transpose(0, 1, 3, 2)[:, None])  # (pairs, ky, kx, n, n)


@cache
def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """The (n, n) matrix of a Gaussian blur along one axis, edges repeated."""
    r = max(1, int(3 * sigma))
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma * sigma))
    k /= k.sum()
    m = np.zeros((n, n))
    for i in range(n):
        for d, w in zip(range(-r, r + 1), k, strict=True):
            m[i, min(n - 1, max(0, i + d))] += w
    return m.astype(np.float32)


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a square picture, or of a stack of them (n, m, m)."""
    k = _blur_matrix(a.shape[-1], sigma)
    return np.matmul(np.matmul(k, a), k.T)


def _ncc_each(placed: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(n, k): the correlation of each of ``placed[p]`` (n, k, L) with ``q[p]`` (n, L), with
    ``q``'s centring and length worked out once (not once per placement)."""
    p = placed - placed.mean(axis=2, keepdims=True)
    q = q - q.mean(axis=1, keepdims=True)
    num = np.matmul(p, q[:, :, None])[:, :, 0]
    return num / np.sqrt(np.einsum("nkl,nkl->nk", p, p) * np.einsum("nl,nl->n", q, q)[:, None] + 1e-6)


def _ncc_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p = p - p.mean(axis=1, keepdims=True)
    q = q - q.mean(axis=1, keepdims=True)
    return (p * q).sum(axis=1) / np.sqrt((p * p).sum(axis=1) * (q * q).sum(axis=1) + 1e-6)
