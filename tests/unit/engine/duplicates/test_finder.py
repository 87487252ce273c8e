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

from photosearch_desktop.engine.duplicates.finder import (
    SIMILAR_NEIGHBOURS,
    _hash_pairs,
    build_graph,
    group_duplicates,
    keeper_key,
    keeper_reason,
    label_pair,
)
from photosearch_desktop.engine.errors import Cancelled
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


def test_keeper_is_original_format_then_resolution_metadata_size_and_earliest_date(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = unit(rng.standard_normal(8))
    vectors = np.stack([at_angle(base, unit(rng.standard_normal(8)), 0.99) for _ in range(7)])
    camera = {"taken_source": "exif-original", "camera_model": "X100"}
    metas = [
        PhotoMeta(800, 600, taken_at=datetime(2020, 1, 1), format="JPEG"),  # p00: low resolution
        PhotoMeta(1600, 1200, taken_at=datetime(2021, 1, 1), format="JPEG", **camera),  # p01: late
        PhotoMeta(1600, 1200, taken_at=datetime(2019, 1, 1), format="JPEG", **camera),  # p02: earliest
        PhotoMeta(1600, 1200, taken_at=datetime(2018, 1, 1), format="JPEG", **camera),  # p03: small file
        PhotoMeta(1600, 1200, taken_at=datetime(2017, 1, 1), format="JPEG"),  # p04: no camera facts
        PhotoMeta(1200, 900, taken_at=datetime(2022, 1, 1), format="HEIF"),  # p05: the original <- keeper
        PhotoMeta(1600, 1200, taken_at=datetime(2022, 1, 1), format="JPEG", gps_lat=1.0),  # p06: GPS only
    ]
    sizes = [9000, 5000, 5000, 4000, 9000, 1000, 5000]
    catalog, _ = constructed_catalog(tmp_path / "c.sqlite", vectors, metas, sizes)
    (group,) = group_duplicates(build_graph(catalog, tmp_path, 0.9), catalog, 0.9)
    ordered = sorted(group.photos, key=keeper_key)
    # Format, then pixels, then how many of camera date / GPS / camera model, then size, then date.
    assert [p.rel_path for p in ordered] == ["p05.jpg", "p02.jpg", "p01.jpg", "p03.jpg", "p06.jpg", "p04.jpg", "p00.jpg"]
    assert group.keeper.rel_path == "p05.jpg" and group.keeper_path == str(tmp_path / "p05.jpg")
    assert group.keeper_reason == "the original format (HEIF), not a JPEG copy"
    assert KEEPER_RULE.index("original format") < KEEPER_RULE.index("highest resolution") < KEEPER_RULE.index(
        "camera date") < KEEPER_RULE.index("largest file") < KEEPER_RULE.index("earliest")
    # Each step of the rule explains the keeper when the steps before it tie.
    photo = {p.rel_path: p for p in group.photos}
    assert keeper_reason(photo["p02.jpg"], [photo["p00.jpg"]]).startswith("the highest resolution (1600×1200")
    assert "carries a camera date, the camera model" in keeper_reason(photo["p02.jpg"], [photo["p04.jpg"]])
    assert "the largest file" in keeper_reason(photo["p02.jpg"], [photo["p03.jpg"]])
    assert "the earliest date (2019-01-01" in keeper_reason(photo["p02.jpg"], [photo["p01.jpg"]])


def test_a_threshold_too_low_gives_bounded_groups_and_cancel_stops(tmp_path: Path) -> None:
    # 120 photos that all look alike: every photo keeps only its nearest neighbours, so the
    # pairs grow with the photos, never with their square.
    n = 120
    vectors = unit(np.ones((n, 4)) + np.random.default_rng(0).normal(0, 0.01, (n, 4)))
    catalog, _ = constructed_catalog(tmp_path / "c.sqlite", vectors)
    graph = build_graph(catalog, tmp_path, 0.5)
    assert n * SIMILAR_NEIGHBOURS // 2 <= len(graph.a) <= n * SIMILAR_NEIGHBOURS < n * (n - 1) // 2
    groups = group_duplicates(graph, catalog, 0.5)
    assert sorted(p.rel_path for g in groups for p in g.photos) == sorted(f"p{i:02d}.jpg" for i in range(n))
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


def test_close_perceptual_hashes_make_candidate_copies_whatever_the_vectors(tmp_path: Path) -> None:
    axes = np.eye(16, dtype=np.float32)
    vectors = axes[:6]  # all orthogonal: no neighbour would propose them
    h = 0x3A5C_96E1_0F0F_7B24
    hashes = [h, h ^ 0b101, h ^ 0x7FFF_0000_0000_0000, ~h, None, h ^ 0xFF]  # 2 bits apart; 15; 64; unknown; 8
    metas = [PhotoMeta(100, 100, pixel_hash=h) for h in hashes]
    catalog, ids = constructed_catalog(tmp_path / "c.sqlite", vectors, metas)
    assert catalog.pixel_hashes(list(ids.values())) == {ids[f"p{i:02d}.jpg"]: h for i, h in enumerate(hashes) if h is not None}
    found = {tuple(p) for p in _hash_pairs(catalog, np.sort(np.array(list(ids.values())))).tolist()}
    pid = [ids[f"p{i:02d}.jpg"] for i in range(6)]
    # Within COPY_HASH_MAX bits: p00-p01 (2), p00-p05 (8), p01-p05 (8); p02 is 15 away, p03 64.
    assert found == {(pid[0], pid[1]), (pid[0], pid[5]), (pid[1], pid[5])}
