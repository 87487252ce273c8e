"""Fold near-duplicates of a ranked result list under the best-ranked of them.

Libraries hold bursts, edits and exports of one photo; ten versions of one picture would push
every other result off the first screen. Going down the ranking, each result is compared with
the results kept above it: at cosine >= the threshold it is folded under the most similar of
them, otherwise it is kept. Only kept results attract folds, so folding never chains: a
result close only to a folded one stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Fold:
    kept: int  # position in the ranking
    folded: list[int] = field(default_factory=list)  # positions folded under it, in rank order


def fold_near_duplicates(vectors: np.ndarray, threshold: float, limit: int | None = None) -> list[Fold]:
    """Kept results (in rank order) with what folds under each, for ranked unit ``vectors``.

    Once ``limit`` results are kept, later ones can still fold under them (so a "+n" badge
    counts them) but are no longer kept.
    """
    folds: list[Fold] = []
    kept = np.zeros((len(vectors), vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    for pos, v in enumerate(np.asarray(vectors, dtype=np.float32)):
        if folds:
            sims = kept[: len(folds)] @ v
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                folds[best].folded.append(pos)
                continue
        if limit is not None and len(folds) >= limit:
            continue
        kept[len(folds)] = v
        folds.append(Fold(pos))
    return folds
