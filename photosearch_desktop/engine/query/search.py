"""Turns a query vector into ranked, filtered results."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np

from ..records import SearchFilters, SearchResult
from ..store.catalog import Catalog
from ..store.vector_index import VectorIndex
from .diversity import fold_copies

# Collapsing fetches more candidates until k distinct results are found; a library where
# even this many candidates fold into fewer than k pictures gets fewer results.
COLLAPSE_MAX_CANDIDATES = 10_000


def first_candidates(k: int) -> int:
    """Candidates a collapsed search of ``k`` results looks at first: k and a quarter more (at
    least 16, at most 2k), enough unless more than a fifth of them fold, when it looks at four
    times as many. The copy check's cost grows with them (100,000-photo speed library, k = 60:
    120 candidates cost 15 ms over a plain search, 76 cost 8 ms). A "+n" badge counts the
    copies among the candidates looked at."""
    return min(2 * k, k + max(16, k // 4))


def search_vector(
    catalog: Catalog,
    index: VectorIndex,
    root: Path,
    query: np.ndarray,
    k: int,
    filters: SearchFilters | None = None,
    exclude: Collection[int] = (),
    dup_threshold: float | None = None,
    copy_floor: float = 0.5,
) -> list[SearchResult]:
    """Top ``k`` photos by cosine similarity.

    Folder and date filters restrict the candidate ids inside the vector search, so a filtered
    query still returns ``k`` results when ``k`` matching photos exist. ``exclude`` (the query
    photo itself) is removed the same way. ``min_score`` then drops weak matches. With
    ``filters.collapse_duplicates``, copies of a better-ranked result (pairs at cosine >=
    ``copy_floor`` whose pixel signatures show the same picture) fold under it, and with
    ``filters.fold_similar`` so does any result at cosine >= ``dup_threshold`` to it; k
    distinct results come back when they exist.
    """
    if k <= 0:
        return []
    filters = filters or SearchFilters()
    allowed = catalog.filtered_ids(filters) if filters.active else None
    if allowed is not None and exclude:
        allowed = np.setdiff1d(allowed, np.fromiter(exclude, dtype=np.int64), assume_unique=True)
    if filters.collapse_duplicates:
        similar = dup_threshold if filters.fold_similar else None
        return _collapsed(catalog, index, root, query, k, filters, exclude, allowed, similar, copy_floor)
    scores, ids = index.search(query, k + (len(exclude) if allowed is None else 0), allowed)
    hits = [(float(s), int(i)) for s, i in zip(scores, ids, strict=True) if int(i) not in exclude][:k]
    if filters.min_score is not None:
        hits = [h for h in hits if h[0] >= filters.min_score]
    records = catalog.photos([i for _, i in hits])
    return [
        SearchResult(photo=records[i], score=s, abs_path=str(root / records[i].rel_path))
        for s, i in hits
        if i in records  # a photo deleted by a concurrent update since the search began
    ]


def _collapsed(
    catalog: Catalog,
    index: VectorIndex,
    root: Path,
    query: np.ndarray,
    k: int,
    filters: SearchFilters,
    exclude: Collection[int],
    allowed: np.ndarray | None,
    threshold: float | None,
    copy_floor: float,
) -> list[SearchResult]:
    fetch = first_candidates(k)
    while True:
        want = fetch + (len(exclude) if allowed is None else 0)
        scores, ids = index.search(query, want, allowed)
        exhausted = len(ids) < want or fetch >= COLLAPSE_MAX_CANDIDATES
        hits = [(float(s), int(i)) for s, i in zip(scores, ids, strict=True) if int(i) not in exclude]
        if filters.min_score is not None and hits and hits[-1][0] < filters.min_score:
            hits = [h for h in hits if h[0] >= filters.min_score]
            exhausted = True
        got, vectors = index.vectors([i for _, i in hits])
        row = {int(i): r for r, i in enumerate(got)}
        found = catalog.signatures_and_sizes([i for _, i in hits])
        # Left out: a photo deleted since the search began.
        hits = [h for h in hits if h[1] in row and h[1] in found]
        ranked = vectors[[row[i] for _, i in hits]]
        evidence = [found[i] for _, i in hits]
        folds = fold_copies([e[0] for e in evidence], [e[1:] for e in evidence], ranked, copy_floor, threshold, k)
        if len(folds) >= k or exhausted:
            break
        fetch = min(4 * fetch, COLLAPSE_MAX_CANDIDATES)

    # Records only for the results and what folds under them, not for every candidate fetched.
    records = catalog.photos([hits[p][1] for f in folds for p in (f.kept, *f.folded)])

    def result(pos: int, folded: tuple[SearchResult, ...] = ()) -> SearchResult:
        score, pid = hits[pos]
        return SearchResult(records[pid], score, str(root / records[pid].rel_path), folded)

    return [
        result(f.kept, tuple(result(p) for p in f.folded if hits[p][1] in records))
        for f in folds
        if hits[f.kept][1] in records  # deleted by a concurrent update between the two reads
    ]
