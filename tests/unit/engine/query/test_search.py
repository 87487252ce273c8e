"""Searching a catalog's vectors, with near-duplicates collapsed (engine/query/search.py):
constructed vectors, no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from vectorgen import at_angle, constructed_catalog, unit

from photosearch_desktop.engine.query.search import first_candidates, search_vector
from photosearch_desktop.engine.records import SearchFilters
from photosearch_desktop.engine.store.vector_index import VectorIndex


def test_collapsed_search_returns_k_distinct_results_with_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    dim = 32
    query = unit(rng.standard_normal(dim))
    vectors = []
    # Three pictures close to the query, with 4 near-duplicate versions each, ranked first.
    for cosine in (0.8, 0.7, 0.6):
        centre = at_angle(query, unit(rng.standard_normal(dim)), cosine)
        vectors += [centre] + [at_angle(centre, unit(rng.standard_normal(dim)), 0.97) for _ in range(4)]
    vectors += [at_angle(query, unit(rng.standard_normal(dim)), 0.3) for _ in range(20)]  # unrelated
    vectors = np.stack(vectors)
    catalog, ids = constructed_catalog(tmp_path / "c.sqlite", vectors)
    index = VectorIndex(dim)
    pids = np.array([ids[f"p{i:02d}.jpg"] for i in range(len(vectors))])
    index.add(pids, vectors)

    plain = search_vector(catalog, index, tmp_path, query, 3, SearchFilters(), dup_threshold=0.9)
    assert all(int(r.photo.rel_path[1:3]) < 5 for r in plain)  # all three: versions of the first picture
    # By default only copies fold (these photos have no signatures: nothing is a copy)...
    assert search_vector(catalog, index, tmp_path, query, 3, SearchFilters(collapse_duplicates=True),
                         dup_threshold=0.9) == plain
    # ...with fold_similar, photos at cosine >= dup_threshold fold too.
    similar = SearchFilters(collapse_duplicates=True, fold_similar=True)
    collapsed = search_vector(catalog, index, tmp_path, query, 3, similar, dup_threshold=0.9)
    assert len(collapsed) == 3
    kept = np.stack([vectors[int(r.photo.rel_path[1:3])] for r in collapsed])
    assert (kept @ kept.T - np.eye(3)).max() < 0.9  # three distinct pictures
    assert [len(r.folded) for r in collapsed] == [4, 4, 4]  # the "+4" badges
    assert all(f.score <= r.score for r in collapsed for f in r.folded)
    assert [r.score for r in collapsed] == sorted((r.score for r in collapsed), reverse=True)
    # Without a threshold (no model spec), nothing is folded.
    assert search_vector(catalog, index, tmp_path, query, 3, similar) == plain
    # The candidates run out: fewer distinct results than asked, none lost.
    everything = search_vector(catalog, index, tmp_path, query, 100, similar, dup_threshold=0.9)
    assert len(everything) + sum(len(r.folded) for r in everything) == len(vectors)


def test_collapsed_search_looks_further_when_many_fold(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    dim = 64
    query = unit(rng.standard_normal(dim))
    vectors = []
    # 40 distinct pictures, each followed by 3 near-duplicate versions: 3 of 4 candidates fold,
    # far more than the first look (k + a quarter) leaves room for.
    for cosine in np.linspace(0.9, 0.5, 40):
        centre = at_angle(query, unit(rng.standard_normal(dim)), float(cosine))
        vectors += [centre] + [at_angle(centre, unit(rng.standard_normal(dim)), 0.99) for _ in range(3)]
    vectors = np.stack(vectors)
    catalog, ids = constructed_catalog(tmp_path / "c.sqlite", vectors)
    index = VectorIndex(dim)
    index.add(np.array([ids[f"p{i:02d}.jpg"] for i in range(len(vectors))]), vectors)
    similar = SearchFilters(collapse_duplicates=True, fold_similar=True)

    assert first_candidates(30) < 4 * 30  # the first look cannot hold 30 distinct pictures here
    results = search_vector(catalog, index, tmp_path, query, 30, similar, dup_threshold=0.95)
    def group(photo) -> int:  # type: ignore[no-untyped-def]
        return int(photo.rel_path[1:-4]) // 4

    best = (vectors @ query).reshape(40, 4).max(axis=1)
    assert [group(r.photo) for r in results] == list(np.argsort(-best)[:30])
    assert all(len(r.folded) == 3 and {group(f.photo) for f in r.folded} == {group(r.photo)} for r in results)
