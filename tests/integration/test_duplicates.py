"""Near-duplicates end to end, with the tiny CLIP over a generated library: the pixel hash
stored by indexing, identical files, collapsing in Library searches; the `dupes` and `eval`
commands."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from libgen import make_library
from lookalikes import copies, scene
from PIL import Image
from whitebox import catalog_of

from photosearch_desktop.cli import main
from photosearch_desktop.engine.duplicates.finder import find_duplicates
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.records import IDENTICAL, KEEPER_RULE, SAME_PHOTO, SIMILAR_SHOT, SearchFilters
from photosearch_desktop.engine.store.catalog import SCHEMA_VERSION


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
                "UPDATE vectors SET vec = ?, crc = vector_check(photo_id, ?) WHERE photo_id = ?",
                (other.tobytes(), other.tobytes(), pid),
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


# -- copies, other shots, the keeper, old catalogs -----------------------------------------------


def another_shot(seed: int, dx: int, dy: int, zoom: float) -> Image.Image:
    """The scene of ``seed`` after a step of the camera: moved and closer (not a copy)."""
    w, h = 480, 360
    big = scene(seed).resize((round(w * zoom), round(h * zoom)), Image.Resampling.BICUBIC)
    return big.crop((dx, dy, dx + w, dy + h))


def test_default_search_folds_the_copies_of_a_photo_and_lists_other_shots(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "Pictures"
    root.mkdir()
    original = scene(7)
    original.save(root / "beach.jpg", quality=92)
    edits = copies(original)
    edits["resize50"].save(root / "beach small.jpg", quality=70)
    edits["brightness"].save(root / "beach bright.jpg", quality=85)
    another_shot(7, 24, 18, 1.1).save(root / "beach again.jpg", quality=92)
    another_shot(7, 48, 30, 1.2).save(root / "beach later.jpg", quality=92)
    for seed in range(20, 24):
        scene(seed).save(root / f"other {seed}.jpg", quality=92)
    name, weights, _ = tiny_clip
    with Library(root, data_dir=data_dir, model=name, weights=weights) as lib:
        lib.index()
        shutil.copyfile(root / "beach.jpg", tmp_path / "query.jpg")  # from outside: the photo is a result too
        results = lib.search_image(tmp_path / "query.jpg", k=5, filters=SearchFilters(collapse_duplicates=True))
        # The picture once (the tiny model may rank a copy level with the photo), its copies under it.
        picture = {"beach.jpg", "beach small.jpg", "beach bright.jpg"}
        assert results[0].photo.rel_path in picture
        assert {f.photo.rel_path for f in results[0].folded} == picture - {results[0].photo.rel_path}
        listed = [r.photo.rel_path for r in results]
        assert {"beach again.jpg", "beach later.jpg"} <= set(listed) and len(listed) == 5
        assert all(not r.folded for r in results[1:])  # nothing else is a copy of anything


def test_a_heic_is_kept_over_its_bigger_jpeg_copy(tmp_path: Path, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import pillow_heif

    pillow_heif.register_heif_opener()
    root = tmp_path / "Phone"
    root.mkdir()
    original = scene(11)
    original.save(root / "IMG_0001.HEIC", quality=60)
    original.save(root / "IMG_0001 export.jpg", quality=97)  # the same pixels: a larger file
    for seed in range(30, 33):
        scene(seed).save(root / f"IMG_00{seed}.jpg", quality=90)
    assert (root / "IMG_0001 export.jpg").stat().st_size > (root / "IMG_0001.HEIC").stat().st_size
    name, weights, _ = tiny_clip
    args = [str(root), "--model", name, "--weights", str(weights), "--data-dir", str(data_dir)]
    assert main(["index", *args]) == 0
    capsys.readouterr()
    assert main(["dupes", *args, "--json"]) == 0
    (group,) = [g for g in json.loads(capsys.readouterr().out)["groups"] if "IMG_0001" in g["keeper"]["path"]]
    assert group["keeper"]["path"] == "IMG_0001.HEIC" and group["keeper"]["format"] == "HEIF"
    assert group["keeper_reason"] == "the original format (HEIF), not a JPEG copy"
    (member,) = [m for m in group["members"] if m["path"] == "IMG_0001 export.jpg"]
    assert member["tier"] == "copy" and member["selected_by_default"] is True and member["label"] == SAME_PHOTO
    assert all(m["tier"] == "similar" and m["selected_by_default"] is False
               for m in group["members"] if m["label"] == SIMILAR_SHOT)


def test_an_older_catalog_gains_signatures_on_the_next_index_run_without_embedding(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "Pictures")
    name, weights, _ = tiny_clip
    with Library(root, data_dir=data_dir, model=name, weights=weights) as lib:
        lib.index()
        catalog_path = catalog_of(lib).path
        ids = catalog_of(lib).filtered_ids(SearchFilters()).tolist()
        _, before = catalog_of(lib).vectors(ids)
    # The schema before signatures (v4): no table for them.
    with sqlite3.connect(catalog_path) as db:
        db.execute("DROP TABLE pixel_signatures")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    db.close()
    with Library(root, data_dir=data_dir, model=name, weights=weights) as lib:
        assert not catalog_of(lib).signatures(ids)  # migrated: the table is back, empty
        report = lib.index()
        assert report.signed == len(ids) and report.embedded == 0 and report.added == 0
        assert set(catalog_of(lib).signatures(ids)) == set(ids)
        _, after = catalog_of(lib).vectors(ids)
        assert np.array_equal(before, after)  # the vectors were kept, not computed again
        assert lib.index().signed == 0  # once
