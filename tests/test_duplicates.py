"""Near-duplicate groups, keeper and labels; collapsing near-duplicates in results; the
`dupes` and `eval` commands. Constructed vectors, generated pictures and the tiny CLIP."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from imagegen import noise
from libgen import make_library
from PIL import Image, ImageDraw, ImageEnhance, ImageOps
from whitebox import catalog_of

from photosearch_desktop.cli import main
from photosearch_desktop.engine.duplicates.finder import (
    COPY_HASH_MAX,
    SIMILAR_NEIGHBOURS,
    _hash_pairs,
    build_graph,
    find_duplicates,
    group_duplicates,
    keeper_key,
    keeper_reason,
    label_pair,
)
from photosearch_desktop.engine.errors import Cancelled, EvaluationError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.query.diversity import fold_near_duplicates
from photosearch_desktop.engine.query.evaluation import evaluate, read_groups
from photosearch_desktop.engine.query.search import search_vector
from photosearch_desktop.engine.records import (
    IDENTICAL,
    KEEPER_RULE,
    SAME_PHOTO,
    SIMILAR_SHOT,
    PhotoMeta,
    SearchFilters,
)
from photosearch_desktop.engine.store.catalog import Catalog
from photosearch_desktop.engine.store.vector_index import VectorIndex


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def at_angle(base: np.ndarray, other: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at exactly ``cosine`` to unit ``base``, towards ``other``."""
    ortho = unit(other - (other @ base) * base)
    return unit(cosine * base + np.sqrt(1 - cosine**2) * ortho)


def constructed_catalog(
    path: Path, vectors: np.ndarray, metas: list[PhotoMeta] | None = None, sizes: list[int] | None = None
) -> tuple[Catalog, dict[str, int]]:
    """A catalog whose photos p00.jpg, p01.jpg, ... have exactly these vectors (no files)."""
    catalog = Catalog(path)
    n, dim = vectors.shape
    catalog.set_model("constructed", "constructed", dim)
    sizes = sizes or [1000] * n
    catalog.apply_changes([(f"p{i:02d}.jpg", sizes[i], 1, None) for i in range(n)], [], [], [], [])
    metas = metas or [PhotoMeta(100, 100)] * n
    ids = {rel: pid for pid, rel in catalog.pending()}
    catalog.store_batch([(ids[f"p{i:02d}.jpg"], vectors[i], metas[i], None) for i in range(n)], [])
    return catalog, ids


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


# -- real files: identical bytes, labels ------------------------------------------------------------


def scene(seed: int, size: tuple[int, int] = (480, 360), background: int | None = None) -> Image.Image:
    """A textured picture: smooth colour noise with a few shapes on it."""
    im = noise(size, seed=seed if background is None else background)
    draw = ImageDraw.Draw(im)
    rng = np.random.default_rng(seed)
    w, h = size
    for _ in range(5):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x0, y0, x0 + int(rng.integers(30, 120)), y0 + int(rng.integers(30, 120))), fill=colour)
    return im


def copies(im: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    return {
        "resize50": im.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "crop10": im.crop((w // 40, h // 40, w - w // 40, h - h // 40)),
        "crop25": im.crop((w // 15, h // 15, w - w // 15, h - h // 15)),
        "brightness": ImageEnhance.Brightness(im).enhance(1.3),
        "contrast": ImageEnhance.Contrast(im).enhance(0.7),
        "flip": ImageOps.mirror(im),
        "rotate5": im.rotate(5, resample=Image.Resampling.BICUBIC),
    }


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


def test_perceptual_hash_keeps_copies_close_and_other_pictures_far() -> None:
    from photosearch_desktop.engine.media.pixel_hash import hash_distance, perceptual_hash

    original = scene(7)
    h = perceptual_hash(original)
    same_framing = ("resize50", "resize25", "jpeg30", "brightness", "contrast")
    for name, im in copies(original).items():
        d = int(hash_distance(h, perceptual_hash(im))[0])
        if name in same_framing:
            assert d <= COPY_HASH_MAX // 2, name
    assert int(hash_distance(h, perceptual_hash(ImageOps.mirror(original)))[0]) > COPY_HASH_MAX
    others = [perceptual_hash(scene(seed)) for seed in range(20, 30)]
    assert all(int(d) > COPY_HASH_MAX for d in hash_distance(np.array(others[:5]), np.array(others[5:])))
    assert hash_distance(h, h)[0] == 0 and isinstance(h, int) and -(2**63) <= h < 2**63


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


def test_indexing_stores_a_perceptual_hash_per_photo(dup_library: Library) -> None:
    lib = dup_library
    ids = catalog_of(lib).filtered_ids(SearchFilters()).tolist()
    hashes = catalog_of(lib).pixel_hashes(ids)
    assert set(hashes) == set(ids)
    copies_ = [catalog_of(lib).photo_by_path(p).id for p in ("2019/Trips/trip_00.jpg", "backup/trip_00.jpg")]
    assert hashes[copies_[0]] == hashes[copies_[1]]
    assert len(set(hashes.values())) > len(ids) // 2


@pytest.fixture
def dup_library(tmp_path: Path, tiny_clip, data_dir: Path) -> Library:  # type: ignore[no-untyped-def]
    """The generated library plus: two byte-identical copies of trip_00 in other folders, and a
    big photo with a same-size twin that differs in the middle only (same fingerprint)."""
    root = make_library(tmp_path / "Pictures")
    (root / "backup/deep").mkdir(parents=True)
    shutil.copyfile(root / "2019/Trips/trip_00.jpg", root / "backup/trip_00.jpg")
    shutil.copyfile(root / "2019/Trips/trip_00.jpg", root / "backup/deep/trip_00 copy.jpg")
    big = root / "big/noise.bmp"  # uncompressed: bytes changed in the middle still decode
    big.parent.mkdir()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(big)
    data = bytearray(big.read_bytes())
    assert len(data) > 3 * 64 * 1024  # the fingerprint reads the first and last 64 KiB only
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(16)
    (root / "big/noise twin.bmp").write_bytes(bytes(data))
    name, weights, _ = tiny_clip
    lib = Library(root, data_dir=data_dir, model=name, weights=weights)
    lib.index()
    yield lib
    lib.close()


def test_identical_files_group_at_any_threshold_even_when_vectors_disagree(dup_library: Library) -> None:
    lib = dup_library
    ids = {rel: catalog_of(lib).photo_by_path(rel).id for rel in ("2019/Trips/trip_00.jpg", "backup/trip_00.jpg", "backup/deep/trip_00 copy.jpg")}
    # As if the model saw them differently: orthogonal vectors for two of the three copies.
    _, vectors = catalog_of(lib).vectors(list(ids.values()))
    dim = vectors.shape[1]
    with catalog_of(lib).transaction() as tx:
        for k, pid in enumerate(list(ids.values())[1:]):
            other = np.zeros(dim, dtype=np.float16)
            other[k] = 1.0
            tx.execute(
                "UPDATE vectors SET vec = ?1, crc = vector_check(photo_id, ?1) WHERE photo_id = ?2", (other.tobytes(), pid)
            )
    groups = lib.find_duplicates(threshold=0.9999)
    by_keeper = {g.keeper.rel_path: g for g in groups}
    group = by_keeper["2019/Trips/trip_00.jpg"]  # the earliest capture date wins the tie
    assert {m.photo.rel_path: m.label for m in group.members} == {
        "backup/trip_00.jpg": IDENTICAL,
        "backup/deep/trip_00 copy.jpg": IDENTICAL,
    }
    # Same size and fingerprint but other bytes: the full hash tells them apart.
    twins = {catalog_of(lib).photo_by_path(p).id for p in ("big/noise.bmp", "big/noise twin.bmp")}
    assert sorted(twins) in catalog_of(lib).same_fingerprint_sets()
    for g in groups:
        for m in g.members:
            if {g.keeper.id, m.photo.id} == twins:
                assert m.label != IDENTICAL
    # A folder restricts the search to its subtree.
    (only,) = lib.find_duplicates(threshold=0.9999, folder="backup")
    assert {p.rel_path for p in only.photos} == {"backup/trip_00.jpg", "backup/deep/trip_00 copy.jpg"}


def test_dupes_command_json_schema_and_exit_codes(dup_library: Library, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    name, weights, _ = tiny_clip
    root = str(dup_library.root)
    model_args = ["--model", name, "--weights", str(weights)]
    assert main(["dupes", root, *model_args, "--threshold", "0.9999", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"library", "model", "threshold", "keeper_rule", "groups"}
    assert doc["keeper_rule"] == KEEPER_RULE and doc["threshold"] == 0.9999
    photo_keys = {"id", "path", "abs_path", "width", "height", "size", "taken_at", "format"}
    group = next(g for g in doc["groups"] if g["keeper"]["path"] == "2019/Trips/trip_00.jpg")
    assert set(group) == {"keeper", "keeper_reason", "members"} and set(group["keeper"]) == photo_keys
    member_keys = photo_keys | {"similarity", "label", "tier", "selected_by_default", "copy_of"}
    assert all(set(m) == member_keys for m in group["members"])
    member = next(m for m in group["members"] if m["path"] == "backup/trip_00.jpg")
    assert member["label"] == IDENTICAL and member["abs_path"] == str(dup_library.root / "backup/trip_00.jpg")
    assert member["tier"] == "copy" and member["selected_by_default"] is True
    assert member["copy_of"] == "2019/Trips/trip_00.jpg" and group["keeper"]["format"] == "JPEG"
    assert member["width"] == 160 and member["taken_at"] == "2019-07-01T12:00:00" and member["similarity"] > 0.999

    assert main(["dupes", root, *model_args, "--threshold", "0.9999"]) == 0
    text = capsys.readouterr().out
    assert "Suggested keeper" in text and "identical file" in text

    with pytest.raises(SystemExit) as usage:
        main(["dupes", root, "--threshold", "1.5"])
    assert usage.value.code == 2
    capsys.readouterr()
    empty = dup_library.root.parent / "empty"
    empty.mkdir()
    assert main(["dupes", str(empty)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("photosearch: error:") and "Index the folder first" in err and "\n" not in err


def test_find_duplicates_reports_progress(dup_library: Library) -> None:
    seen: list[tuple[int, int]] = []
    find_duplicates(catalog_of(dup_library), dup_library.root, 0.9999, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1]


# -- collapsing near-duplicates in results --------------------------------------------------------


def test_fold_near_duplicates_folds_under_kept_results_only() -> None:
    rng = np.random.default_rng(4)
    x = unit(rng.standard_normal(16))
    y = at_angle(x, unit(rng.standard_normal(16)), 0.95)  # near-duplicate of x
    z = at_angle(y, unit(-x + 0.1 * unit(rng.standard_normal(16))), 0.95)  # close to y only
    assert z @ x < 0.9
    w = unit(rng.standard_normal(16))
    folds = fold_near_duplicates(np.stack([x, y, z, w, x]), 0.9)
    assert [(f.kept, f.folded) for f in folds] == [(0, [1, 4]), (2, []), (3, [])]
    limited = fold_near_duplicates(np.stack([x, w, y, z, x]), 0.9, limit=1)
    assert [(f.kept, f.folded) for f in limited] == [(0, [2, 4])]


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


def test_library_search_collapses_only_when_asked(dup_library: Library) -> None:
    own = catalog_of(dup_library).photo_by_path("2019/Home/home_00.jpg")
    plain = dup_library.search_photo(own.id, k=100)
    assert all(r.folded == () for r in plain)
    collapsed = dup_library.search_photo(own.id, k=100, filters=SearchFilters(collapse_duplicates=True))
    # Everything is still there, once: kept or folded under a kept result.
    shown = [r.photo.id for r in collapsed] + [f.photo.id for r in collapsed for f in r.folded]
    assert sorted(shown) == sorted(r.photo.id for r in plain)
    # The byte-identical copies of trip_00 never show as separate results.
    copies_shown = {"2019/Trips/trip_00.jpg", "backup/trip_00.jpg", "backup/deep/trip_00 copy.jpg"} & {
        r.photo.rel_path for r in collapsed
    }
    assert len(copies_shown) <= 1


# -- evaluation ---------------------------------------------------------------------------------


def test_groups_csv_matching_and_metrics_on_constructed_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    centres = [unit(rng.standard_normal(16)) for _ in range(3)]
    vectors = np.stack([at_angle(c, unit(rng.standard_normal(16)), 0.95) for c in centres for _ in range(4)])
    catalog, ids = constructed_catalog(tmp_path / "c.sqlite", vectors)
    with catalog.transaction() as tx:  # give the photos the layouts a groups file may describe
        tx.execute("UPDATE photos SET rel_path = 'images/' || rel_path WHERE rel_path < 'p04'")
        tx.execute("UPDATE photos SET rel_path = 'sub/' || rel_path WHERE rel_path >= 'p04' AND rel_path < 'p08'")
    rows = ["filename,group_id"]
    rows += [f"p{i:02d}.jpg,0" for i in range(4)]  # bare names under images/ (UKBench)
    rows += [f"sub/p{i:02d}.jpg,1" for i in range(4, 6)] + [f"p{i:02d}.jpg,1" for i in range(6, 8)]  # path / unique name
    rows += [f"p{i:02d}.jpg,2" for i in range(8, 12)] + ["missing.jpg,3"]
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    groups, unmatched = read_groups(csv_path, catalog)
    assert len(groups) == 12 and unmatched == ["missing.jpg"]
    report = evaluate(catalog, groups, unmatched)
    assert (report.queries, report.groups, report.photos) == (12, 3, 12)
    assert report.mean_average_precision == pytest.approx(1.0) and report.ns_score == pytest.approx(4.0)
    assert report.precision[1] == 1.0 and report.recall[4] == 1.0 and report.precision[4] == pytest.approx(0.75)

    bad = tmp_path / "bad.csv"
    bad.write_text("name,group\nx,1\n")
    with pytest.raises(EvaluationError, match="filename,group_id"):
        read_groups(bad, catalog)
    none = tmp_path / "none.csv"
    none.write_text("filename,group_id\nnowhere.jpg,1\n")
    with pytest.raises(EvaluationError, match="No row"):
        read_groups(none, catalog)


def test_eval_command_json(tmp_path: Path, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    name, weights, _ = tiny_clip
    root = make_library(tmp_path / "Pictures")
    model_args = ["--model", name, "--weights", str(weights)]
    assert main(["index", str(root), *model_args, "-q"]) == 0
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text("filename,group_id\n" + "".join(f"2019/Trips/trip_{i:02d}.jpg,{i // 4}\n" for i in range(8)))
    capsys.readouterr()
    assert main(["eval", str(root), *model_args, "--groups", str(csv_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["queries"] == 8 and doc["groups"] == 2 and doc["photos"] == 24 and doc["unmatched_count"] == 0
    for key in ("precision@1", "precision@4", "precision@10", "recall@1", "recall@4", "recall@10", "mAP", "ns_score"):
        assert 0.0 <= doc[key] <= 4.0
    assert main(["eval", str(root), *model_args, "--groups", str(tmp_path / "nope.csv")]) == 1
    assert "nope.csv" in capsys.readouterr().err
