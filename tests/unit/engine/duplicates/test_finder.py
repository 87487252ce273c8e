"""Near-duplicate groups, keeper and labels (engine/duplicates/finder.py): constructed
vectors and generated pictures, no model."""

from __future__ import annotations

import shutil
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from lookalikes import copies, scene
from vectorgen import at_angle, constructed_catalog, unit

from photosearch_desktop.engine.duplicates.finder import build_graph, group_duplicates, keeper_key, label_pair
from photosearch_desktop.engine.errors import Cancelled, DuplicateSearchError
from photosearch_desktop.engine.records import IDENTICAL, KEEPER_RULE, SAME_PHOTO, SIMILAR_SHOT, PhotoMeta


def groups_by_path(groups) -> list[set[str]]:  # type: ignore[no-untyped-def]
    return [{p.rel_path for p in g.photos} for g in groups]


# -- grouping -------------------------------------------------------------------------------------


def test_groups_do_not_chain_unrelated_photos(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    dim = 16
    a = unit(rng.standard_normal(dim))
    c = at_angle(a, unit(rng.standard_normal(dim)), 0.80)  # unrelated to A at threshold 0.9
    b = unit(a + c)  # between them: cosine ~0.95 to both
    assert b @ a > 0.94 and b @ c > 0.94
    # B has the highest resolution, so it is the first centre and sees both A and C.
    metas = [PhotoMeta(100, 100), PhotoMeta(400, 300), PhotoMeta(100, 100)]
    catalog, ids = constructed_catalog(tmp_path / "c.sqlite", np.stack([a, b, c]), metas)
    graph = build_graph(catalog, tmp_path, 0.9)
    assert len(graph.a) == 2  # A-B and B-C only
    groups = group_duplicates(graph, catalog, 0.9)
    (group,) = groups_by_path(groups)
    assert group in ({"p00.jpg", "p01.jpg"}, {"p01.jpg", "p02.jpg"})  # B with A or C, never both
    assert groups[0].keeper.rel_path == "p01.jpg"

    # A chain of 12 photos, each at 0.95 to the next: groups stay tight, never the whole chain.
    chain = [unit(rng.standard_normal(dim))]
    for _ in range(11):
        chain.append(at_angle(chain[-1], unit(rng.standard_normal(dim)), 0.95))
    vectors = np.stack(chain)
    catalog2, _ = constructed_catalog(tmp_path / "chain.sqlite", vectors)
    groups = group_duplicates(build_graph(catalog2, tmp_path, 0.9), catalog2, 0.9)
    assert groups and all(len(g.photos) < 6 for g in groups)
    for g in groups:
        rows = [int(p.rel_path[1:3]) for p in g.photos]
        sims = vectors[rows] @ vectors[rows].T
        assert sims.min() >= 0.85  # threshold - LINK_SLACK between any two members
        assert all(m.similarity >= 0.9 for m in g.members)  # and every member close to the keeper


def test_keeper_is_highest_resolution_then_largest_file_then_earliest_date(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = unit(rng.standard_normal(8))
    vectors = np.stack([at_angle(base, unit(rng.standard_normal(8)), 0.99) for _ in range(5)])
    metas = [
        PhotoMeta(800, 600, taken_at=datetime(2020, 1, 1)),  # p00: low resolution
        PhotoMeta(1600, 1200, taken_at=datetime(2021, 1, 1)),  # p01: high res, big file, late
        PhotoMeta(1600, 1200, taken_at=datetime(2019, 1, 1)),  # p02: high res, big file, earliest <- keeper
        PhotoMeta(1600, 1200, taken_at=datetime(2018, 1, 1)),  # p03: high res, small file
        PhotoMeta(1200, 1600, taken_at=None),  # p04: same pixels, no date, big file: after p02 and p01
    ]
    sizes = [9000, 5000, 5000, 4000, 5000]
    catalog, _ = constructed_catalog(tmp_path / "c.sqlite", vectors, metas, sizes)
    (group,) = group_duplicates(build_graph(catalog, tmp_path, 0.9), catalog, 0.9)
    assert group.keeper.rel_path == "p02.jpg"
    ordered = sorted(group.photos, key=keeper_key)
    assert [p.rel_path for p in ordered] == ["p02.jpg", "p01.jpg", "p04.jpg", "p03.jpg", "p00.jpg"]
    assert "highest resolution" in KEEPER_RULE and "largest file" in KEEPER_RULE and "earliest" in KEEPER_RULE
    assert group.keeper_path == str(tmp_path / "p02.jpg")


def test_threshold_too_low_for_the_library_is_refused_and_cancel_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = unit(np.ones((6, 4)) + np.random.default_rng(0).normal(0, 0.01, (6, 4)))
    catalog, _ = constructed_catalog(tmp_path / "c.sqlite", vectors)
    monkeypatch.setattr("photosearch_desktop.engine.duplicates.finder.MAX_PAIRS", 10)
    with pytest.raises(DuplicateSearchError, match="too low"):
        build_graph(catalog, tmp_path, 0.5)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        build_graph(catalog, tmp_path, 0.99, cancel=cancel)


def test_labels_same_photo_for_copies_and_similar_shot_for_other_pictures(tmp_path: Path) -> None:
    original = scene(7)
    original.save(tmp_path / "original.jpg", quality=92)
    shutil.copyfile(tmp_path / "original.jpg", tmp_path / "identical.jpg")
    for name, im in copies(original).items():
        im.save(tmp_path / f"{name}.jpg", quality=50 if name == "resize50" else 85)
    # Another shot: the same shapes over another texture, and a shape moved.
    scene(7, background=8).save(tmp_path / "other_texture.jpg", quality=92)
    scene(9).save(tmp_path / "unrelated.jpg", quality=92)

    keeper = tmp_path / "original.jpg"
    assert label_pair(keeper, tmp_path / "identical.jpg") == IDENTICAL
    for name in copies(original):
        assert label_pair(keeper, tmp_path / f"{name}.jpg") == SAME_PHOTO, name
    assert label_pair(tmp_path / "resize50.jpg", keeper) == SAME_PHOTO  # either may be the keeper
    assert label_pair(keeper, tmp_path / "other_texture.jpg") == SIMILAR_SHOT
    assert label_pair(keeper, tmp_path / "unrelated.jpg") == SIMILAR_SHOT
    (tmp_path / "gone.jpg").write_bytes(b"not a picture")
    assert label_pair(keeper, tmp_path / "gone.jpg") == SIMILAR_SHOT  # unreadable: never "same photo"


def test_duplicate_finder_decodes_only_pairs_with_close_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import photosearch_desktop.engine.duplicates.finder as dup

    axes = np.eye(16, dtype=np.float32)
    # Three pairs of look-alikes at cosine 0.7 (below the threshold: only pixels can tell a
    # copy), each pair orthogonal to the others.
    vectors = np.stack([v for g in range(3) for v in (axes[g], at_angle(axes[g], axes[g + 3], 0.7))])
    h = 0x3A5C_96E1_0F0F_7B24
    hashes = [h, h ^ 0b101, h, ~h, None, h]  # 2 bits apart; 64 bits apart; one unknown
    metas = [PhotoMeta(100, 100, pixel_hash=h) for h in hashes]
    catalog, ids = constructed_catalog(tmp_path / "c.sqlite", vectors, metas)
    assert catalog.pixel_hashes(list(ids.values())) == {ids[f"p{i:02d}.jpg"]: h for i, h in enumerate(hashes) if h is not None}
    decoded: list[str] = []
    monkeypatch.setattr(dup, "_thumb", lambda path: decoded.append(path.name))
    build_graph(catalog, tmp_path, 0.9)
    # The close pair and the pair with an unknown hash are compared on pixels; the far pair is not.
    assert sorted(decoded) == ["p00.jpg", "p01.jpg", "p04.jpg", "p05.jpg"]
