"""Fold copies of a photo in a ranked result list under the best-ranked of them.

Libraries hold exports, edits and backups of one photo; ten copies of one picture would push
every other result off the first screen. Going down the ranking, each result is compared with
the results kept above it: a copy of one of them (the same picture resized, re-encoded,
cropped, recoloured or captioned: :func:`copies_among`, decided on the pixel signatures
stored at index time, nothing decoded) folds under the most similar of them, otherwise it is
kept. Other shots of the same scene stay separate results. With a similarity ``threshold``
(the "also fold similar shots" option) any result whose vector is that close to a kept one
folds as well. Only kept results attract folds, so folding never chains: a result close only
to a folded one stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..media.signature import Looks, Signatures
from ..system.blas import one_blas_thread

Sizes = Sequence[tuple[int | None, int | None]]  # (width, height) in pixels, None where not known


@dataclass
class Fold:
    kept: int  # position in the ranking
    folded: list[int] = field(default_factory=list)  # positions folded under it, in rank order


def fold_near_duplicates(
    vectors: np.ndarray,
    threshold: float | None,
    limit: int | None = None,
    copies: np.ndarray | None = None,
) -> list[Fold]:
    """Kept results (in rank order) with what folds under each, for ranked unit ``vectors``.

    A result folds under the most similar kept result it is a copy of (``copies[p, q]``, for
    the first ``len(copies)`` positions), or, with ``threshold``, whose vector has at least
    that cosine to it. Once ``limit`` results are kept, later ones can still fold under them
    (so a "+n" badge counts them) but are no longer kept.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    folds: list[Fold] = []
    kept_at: list[int] = []
    # Without a threshold most results copy nothing above them: those skip every product.
    copy_above: list[bool] = [False] * len(vectors)
    if copies is not None:
        copy_above[: len(copies)] = np.asarray(np.triu(copies, 1).any(axis=0)).tolist()
    for pos in range(len(vectors)):
        if folds and (threshold is not None or copy_above[pos]):
            to_kept = vectors[kept_at] @ vectors[pos]
            near = to_kept >= threshold if threshold is not None else np.zeros(len(folds), dtype=bool)
            if copy_above[pos]:
                assert copies is not None
                near |= copies[kept_at, pos]
            if near.any():
                folds[int(np.argmax(np.where(near, to_kept, -np.inf)))].folded.append(pos)
                continue
        if limit is not None and len(folds) >= limit:
            continue
        kept_at.append(pos)
        folds.append(Fold(pos))
    return folds


COPY_WINDOW = 2048  # results checked for copies of each other (a 2048^2 look: ~16 MB at a time)


def copies_among(blobs: Sequence[bytes | None], sizes: Sizes, vectors: np.ndarray, floor: float) -> np.ndarray:
    """(n, n) symmetric, for the first n = min(len(blobs), COPY_WINDOW) of the ranked photos
    (their pixel signatures ``blobs``, pixel ``sizes`` and unit ``vectors``): which are copies
    of each other. Only pairs at
    cosine >= ``floor`` are looked at; a first look at 16 px for all of them at once, the full
    comparison prepared for the few it leaves. Photos without a signature (indexed before
    signatures were kept) are copies of nothing. Its products are small: one BLAS thread
    (:func:`one_blas_thread`)."""
    with one_blas_thread():
        return _copies_among(blobs, sizes, vectors, floor)


def _copies_among(blobs: Sequence[bytes | None], sizes: Sizes, vectors: np.ndarray, floor: float) -> np.ndarray:
    looked = _Looked(blobs, sizes, vectors, floor)
    looked.decide(looked.i, looked.j)
    return looked.copies | looked.copies.T


def fold_copies(
    blobs: Sequence[bytes | None],
    sizes: Sizes,
    vectors: np.ndarray,
    floor: float,
    threshold: float | None,
    limit: int | None,
) -> list[Fold]:
    """:func:`fold_near_duplicates` of the ranked photos with their copies
    (:func:`copies_among`), deciding the costly hypotheses (a turned copy, a crop) only for
    the pairs the folding asks: a result against the results kept above it, never two copies
    folded under one photo. The same framing is decided for every looked pair at once; the
    folding then runs with the pairs decided so far, the pairs it asked that are still open are
    decided in one batch, and it runs again until it asks no open pair (at most a few rounds:
    each round's kept results only change where a decided pair folded one). The result is the
    folding with every pair decided. On the 100,000-photo speed library (k = 60), deciding
    every looked pair took ~20 pairs a query through the turned and crop hypotheses, this ~8.
    One BLAS thread (:func:`one_blas_thread`)."""
    with one_blas_thread():
        unit = np.asarray(vectors, dtype=np.float32)
        if not len(blobs):
            return []
        looked = _Looked(blobs, sizes, unit, floor)
        open_ = np.zeros_like(looked.copies)
        if len(looked.i):
            framed = looked.decide(looked.i, looked.j, others=False)
            open_[looked.i[~framed], looked.j[~framed]] = True
        while True:
            folds = fold_near_duplicates(unit, threshold, limit, copies=looked.copies | looked.copies.T)
            kept = np.zeros(len(open_), dtype=bool)
            kept[[f.kept for f in folds if f.kept < len(kept)]] = True
            i, j = np.nonzero(open_ & kept[:, None])
            if not len(i):
                return folds
            open_[i, j] = False
            if not looked.decide(i, j, framing=False).any():
                return folds  # no new copy: folding again would fold the same


class _Looked:
    """The first n = min(len(blobs), COPY_WINDOW) ranked photos: the pairs (i[p], j[p]), i < j,
    that the first look leaves, and ``copies`` (n, n) above the diagonal as far as decided."""

    def __init__(self, blobs: Sequence[bytes | None], sizes: Sizes, vectors: np.ndarray, floor: float) -> None:
        blobs, sizes, vectors = blobs[:COPY_WINDOW], sizes[:COPY_WINDOW], vectors[:COPY_WINDOW]
        n = len(blobs)
        unit = np.asarray(vectors, dtype=np.float32)
        # Each pair compared once, the earlier-ranked photo first.
        self.i, self.j = np.nonzero(np.triu(Looks.of(blobs, sizes).matrix(unit @ unit.T >= floor), 1))
        self.copies = np.zeros((n, n), dtype=bool)
        needed = np.unique(np.concatenate([self.i, self.j]))
        self._local = np.zeros(n, dtype=np.int64)  # position -> row of the prepared signatures
        self._local[needed] = np.arange(len(needed))
        self._sigs = Signatures([blobs[k] for k in needed], [sizes[k] for k in needed]) if len(needed) else None

    def decide(self, i: np.ndarray, j: np.ndarray, framing: bool = True, others: bool = True) -> np.ndarray:
        """Whether each pair (i[p], j[p]) is a copy under the hypotheses asked; recorded in ``copies``."""
        if self._sigs is None or not len(i):
            return np.zeros(len(i), dtype=bool)
        same = self._sigs.same(self._local[i], self._local[j], framing, others)
        self.copies[i[same], j[same]] = True
        return same
