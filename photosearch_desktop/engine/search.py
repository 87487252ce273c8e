"""Turns a query vector into ranked, filtered results."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np

from .catalog import Catalog
from .records import SearchFilters, SearchResult
from .vector_index import VectorIndex


def search_vector(
    catalog: Catalog,
    index: VectorIndex,
    root: Path,
    query: np.ndarray,
    k: int,
    filters: SearchFilters = SearchFilters(),
    exclude: Collection[int] = (),
) -> list[SearchResult]:
    """Top ``k`` photos by cosine similarity.

    Folder and date filters restrict the candidate ids inside the vector search, so a filtered
    query still returns ``k`` results when ``k`` matching photos exist. ``exclude`` (the query
    photo itself) is removed the same way. ``min_score`` then drops weak matches.
    """
    if k <= 0:
        return []
    allowed = catalog.filtered_ids(filters) if filters.active else None
    if allowed is not None and exclude:
        allowed = np.setdiff1d(allowed, np.fromiter(exclude, dtype=np.int64), assume_unique=True)
    scores, ids = index.search(query, k + (len(exclude) if allowed is None else 0), allowed)
    hits = [(float(s), int(i)) for s, i in zip(scores, ids) if int(i) not in exclude][:k]
    if filters.min_score is not None:
        hits = [h for h in hits if h[0] >= filters.min_score]
    records = catalog.photos([i for _, i in hits])
    return [
        SearchResult(photo=records[i], score=s, abs_path=str(root / records[i].rel_path))
        for s, i in hits
        if i in records  # a photo deleted by a concurrent update since the search began
    ]
