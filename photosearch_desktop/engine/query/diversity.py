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
from ..records import PhotoRecord
from ..store.catalog import Catalog
from ..system.blas import one_blas_thread


@dataclass
class Fold:
    kept: int  # position in the ranking
    folded: list[int] = field(default_factory=list)  # positions folded under it, in rank order


def fold_near_duplicates(
    vectors: np.ndarray,
    threshold: float | None,
    limit: int | None = None,
    copies: np.ndarray | CopyCheck | None = None,
) -> list[Fold]:
    """Kept results (in rank order) with what folds under each, for ranked unit ``vectors``.

    A result folds under the most similar kept result it is a copy of (``copies[p, q]``, or
    ``copies.among``, for the first ``len(copies)`` positions), or, with ``threshold``, whose
    vector has at least that cosine to it. Once ``limit`` results are kept, later ones can
    still fold under them (so a "+n" badge counts them) but are no longer kept.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    folds: list[Fold] = []
    kept = np.zeros((len(vectors), vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    for pos, v in enumerate(vectors):
        if folds:
            to_kept = kept[: len(folds)] @ v
            near = np.zeros(len(folds), dtype=bool)
            if copies is not None and pos < len(copies):
                above = [f.kept for f in folds]
                near |= copies.among(above, pos) if isinstance(copies, CopyCheck) else copies[above, pos]
            if threshold is not None:
                near |= to_kept >= threshold
            if near.any():
                folds[int(np.argmax(np.where(near, to_kept, -np.inf)))].folded.append(pos)
                continue
        if limit is not None and len(folds) >= limit:
            continue
        kept[len(folds)] = v
        folds.append(Fold(pos))
    return folds


COPY_WINDOW = 2048  # results checked for copies of each other (a 2048^2 look: ~16 MB at a time)


def copies_among(
    catalog: Catalog, ids: Sequence[int], records: dict[int, PhotoRecord], vectors: np.ndarray, floor: float
) -> np.ndarray:
    """(n, n) symmetric, for the first n = min(len(ids), COPY_WINDOW) of the ranked photos
    ``ids`` (with their unit ``vectors``): which are copies of each other. Only pairs at
    cosine >= ``floor`` are looked at; a first look at 16 px for all of them at once, the full
    comparison prepared for the few it leaves. Photos without a signature (indexed before
    signatures were kept) are copies of nothing. Its products are small: one BLAS thread
    (:func:`one_blas_thread`)."""
    with one_blas_thread():
        return _copies_among(catalog, ids, records, vectors, floor)


def _copies_among(
    catalog: Catalog, ids: Sequence[int], records: dict[int, PhotoRecord], vectors: np.ndarray, floor: float
) -> np.ndarray:
    check = CopyCheck(catalog, ids, records, vectors, floor)
    n = len(check)
    out = np.zeros((n, n), dtype=bool)
    i, j = np.nonzero(check.looked)
    if len(i):
        out[i, j] = check.signatures().same(check.local[i], check.local[j])
    return out | out.T


class CopyCheck:
    """:func:`copies_among`, decided pair by pair as the folding asks (``among``).

    The folding only asks whether a result copies a result *kept* above it, so the full
    comparison runs only for those pairs that pass the first look, never for two copies
    folded under one photo (most of the pairs the first look leaves: a photo and its n copies
    give n (n + 1) / 2 such pairs, of which n are asked). Every pair is compared as
    :func:`copies_among` compares it (the earlier-ranked photo first, the signatures of the
    same photos prepared at once), so the answers are the same.
    """

    def __init__(
        self, catalog: Catalog, ids: Sequence[int], records: dict[int, PhotoRecord], vectors: np.ndarray, floor: float
    ) -> None:
        ids, vectors = ids[:COPY_WINDOW], vectors[:COPY_WINDOW]
        self._n = len(ids)
        blobs_by_id = catalog.signatures(list(ids))
        self._blobs = [blobs_by_id.get(i) for i in ids]
        self._sizes = [(records[i].width, records[i].height) if i in records else (None, None) for i in ids]
        unit = np.asarray(vectors, dtype=np.float32)
        # (n, n), above the diagonal: the pairs the first look leaves.
        self.looked = np.triu(Looks.of(self._blobs, self._sizes).matrix() & (unit @ unit.T >= floor), 1)
        i, j = np.nonzero(self.looked)
        self._needed = np.unique(np.concatenate([i, j]))
        self.local = np.zeros(self._n, dtype=np.int64)  # position -> row of signatures()
        self.local[self._needed] = np.arange(len(self._needed))
        self._signatures: Signatures | None = None
        self._known: dict[tuple[int, int], bool] = {}

    def __len__(self) -> int:
        return self._n

    def signatures(self) -> Signatures:
        """The signatures of every photo in a looked pair, prepared once."""
        if self._signatures is None:
            self._signatures = Signatures([self._blobs[k] for k in self._needed], [self._sizes[k] for k in self._needed])
        return self._signatures

    def among(self, above: Sequence[int], pos: int) -> np.ndarray:
        """Whether the photo at ``pos`` is a copy of each photo at ``above`` (ranked above it)."""
        rows = np.asarray(above, dtype=np.int64)
        out = self.looked[rows, pos].copy()
        ask = [int(q) for q in rows[out] if (int(q), pos) not in self._known]
        if ask:
            same = self.signatures().same(self.local[ask], np.full(len(ask), self.local[pos]))
            self._known.update(((q, pos), bool(s)) for q, s in zip(ask, same, strict=True))
        for k in np.flatnonzero(out):
            out[k] = self._known[(int(rows[k]), pos)]
        return out
