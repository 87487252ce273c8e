"""Fast units of the engine: scanner, change detection, catalog, vector index."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

import faiss
import numpy as np
import pytest
from imagegen import random_bytes, solid, write_jpeg
from libgen import write_photo

from photosearch_desktop.engine.errors import CatalogError
from photosearch_desktop.engine.records import PhotoMeta, SearchFilters
from photosearch_desktop.engine.scan.changes import detect_changes
from photosearch_desktop.engine.scan.scanner import scan_library
from photosearch_desktop.engine.store.catalog import SCHEMA_VERSION, Catalog, path_from_db, path_to_db
from photosearch_desktop.engine.store.vector_index import IndexStamp, VectorIndex

# -- scanner -----------------------------------------------------------------------------------


def test_scanner_finds_images_by_extension_and_content(tmp_path: Path) -> None:
    write_jpeg(tmp_path / "a.jpg", solid((10, 20, 30)))
    write_jpeg(tmp_path / "jpeg-named.png", solid((1, 2, 3)))
    write_jpeg(tmp_path / "no_extension", solid((4, 5, 6)))
    write_jpeg(tmp_path / "odd.extension", solid((7, 8, 9)))
    (tmp_path / "notes").write_text("not an image")
    (tmp_path / "IMG_0001.AAE").write_text("<plist/>")
    (tmp_path / "IMG_0001.xmp").write_text("<x:xmpmeta/>")
    (tmp_path / "takeout.json").write_text("{}")
    write_jpeg(tmp_path / "sidecar-looking.json", solid((7, 8, 9)))  # a sidecar stays a sidecar
    (tmp_path / ".hidden").mkdir()
    write_jpeg(tmp_path / ".hidden" / "secret.jpg", solid((0, 0, 0)))
    write_jpeg(tmp_path / ".dotfile.jpg", solid((0, 0, 0)))
    sub = tmp_path / "2019" / "Trips"
    sub.mkdir(parents=True)
    write_jpeg(sub / "b.JPG", solid((9, 9, 9)))

    found = scan_library(tmp_path).files
    assert sorted(found) == ["2019/Trips/b.JPG", "a.jpg", "jpeg-named.png", "no_extension", "odd.extension"]
    assert found["a.jpg"].size == (tmp_path / "a.jpg").stat().st_size


def test_scanner_survives_symlink_loops_and_reports_broken_links(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    write_jpeg(tmp_path / "a" / "x.jpg", solid((1, 1, 1)))
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a -> root -> a -> ...
    os.symlink(tmp_path / "missing.jpg", tmp_path / "dangling.jpg")
    result = scan_library(tmp_path)
    assert list(result.files) == ["a/x.jpg"]
    assert [p.rel_path for p in result.problems] == ["dangling.jpg"]


def test_scanner_reports_unreadable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    write_jpeg(locked / "x.jpg", solid((1, 1, 1)))
    write_jpeg(tmp_path / "ok.jpg", solid((1, 1, 1)))
    real_scandir = os.scandir

    def scandir(path: str):  # type: ignore[no-untyped-def]
        # chmod 000 does not stop root (who runs CI), so the refusal is injected.
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr("photosearch_desktop.engine.scan.scanner.os.scandir", scandir)
    result = scan_library(tmp_path)
    assert list(result.files) == ["ok.jpg"]
    assert result.problems[0].rel_path == "locked"
    assert "Folder cannot be read: Permission denied" == result.problems[0].reason


def test_scanner_keeps_non_utf8_names(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not valid UTF-8
    write_jpeg(tmp_path / name, solid((1, 1, 1)))
    assert list(scan_library(tmp_path).files) == [name]
    assert path_from_db(path_to_db(name)) == name
    path_to_db(name).encode("utf-8")  # storable in SQLite


# -- change detection --------------------------------------------------------------------------


def _catalog_with(tmp_path: Path, root: Path) -> Catalog:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    scan = scan_library(root)
    changes = detect_changes(root, scan, catalog.known_files())
    catalog.apply_changes(changes.new, changes.modified, changes.moved, changes.deleted, scan.problems)
    # Give every photo its fingerprint, as the indexing pipeline does.
    from photosearch_desktop.engine.scan.fingerprint import fingerprint

    with catalog.transaction() as tx:
        for rel, known in catalog.known_files().items():
            tx.execute("UPDATE photos SET fingerprint = ? WHERE id = ?", (fingerprint(root / rel), known.id))
    return catalog


def test_changes_new_modified_moved_deleted(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for i in range(4):
        write_photo(root / f"p{i}.jpg", seed=i)
    catalog = _catalog_with(tmp_path, root)
    ids = {rel: k.id for rel, k in catalog.known_files().items()}

    write_photo(root / "new.jpg", seed=10)
    write_photo(root / "p1.jpg", seed=11)  # modified in place
    os.utime(root / "p1.jpg", ns=(1, 1))
    (root / "sub").mkdir()
    (root / "p2.jpg").rename(root / "sub" / "renamed.jpg")
    (root / "p3.jpg").unlink()

    changes = detect_changes(root, scan_library(root), catalog.known_files())
    assert [n[0] for n in changes.new] == ["new.jpg"]
    assert [m[0] for m in changes.modified] == [ids["p1.jpg"]]
    assert [(m[0], m[1]) for m in changes.moved] == [(ids["p2.jpg"], "sub/renamed.jpg")]
    assert changes.deleted == [ids["p3.jpg"]]
    assert changes.unchanged == 1


def test_copy_is_new_not_moved_when_original_remains(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    write_photo(root / "a.jpg", seed=1)
    catalog = _catalog_with(tmp_path, root)
    (root / "a (1).jpg").write_bytes((root / "a.jpg").read_bytes())
    changes = detect_changes(root, scan_library(root), catalog.known_files())
    assert [n[0] for n in changes.new] == ["a (1).jpg"] and not changes.moved and not changes.deleted


# -- catalog -----------------------------------------------------------------------------------


def test_catalog_schema_is_versioned(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match="newer PhotoSearch"):
        Catalog(path)


def test_a_schema_2_catalog_is_migrated_with_a_checksum_for_every_vector(tmp_path: Path) -> None:
    from photosearch_desktop.engine.store.catalog import MIGRATIONS

    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 2")
    vec = np.arange(8, dtype=np.float16) / 8
    conn.execute(
        "INSERT INTO photos(id, rel_path, folder, size, mtime_ns, status) "
        "VALUES (7, 'a.jpg', '', 1, 1, 'indexed'), (8, 'b.jpg', '', 1, 1, 'indexed')"
    )
    conn.execute("INSERT INTO vectors(photo_id, vec) VALUES (7, ?)", (vec.tobytes(),))
    conn.commit()
    conn.close()

    catalog = Catalog(path)
    assert catalog.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    ids, vectors = catalog.vectors([7])
    assert ids.tolist() == [7] and np.array_equal(vectors[0], vec.astype(np.float32))
    assert catalog.requeue_damaged_vectors() == [] and catalog.damaged_vector_ids == set()
    # The checksum is bound to the row: the same bytes on another photo's row do not pass.
    catalog.conn.execute("UPDATE vectors SET photo_id = 8 WHERE photo_id = 7")
    assert catalog.vectors([8])[0].tolist() == [] and catalog.damaged_vector_ids == {8}


def test_damaged_catalog_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    random_bytes(path, size=8192)
    with pytest.raises(CatalogError, match="damaged"):
        Catalog(path)


def _filled_catalog(tmp_path: Path) -> tuple[Catalog, dict[str, int]]:
    catalog = Catalog(tmp_path / "c.sqlite")
    rels = ["2019/Trips/a.jpg", "2019/Trips/deep/b.jpg", "2019/Trips_old/c.jpg", "2019_x/d.jpg", "e.jpg", "f.jpg"]
    catalog.apply_changes([(r, 1, 1, None) for r in rels], [], [], [], [])
    ids = {r: k.id for r, k in catalog.known_files().items()}
    dates = [datetime(2019, 7, 1), datetime(2019, 7, 2), datetime(2018, 1, 1), None, datetime(2020, 1, 1), None]
    sources = ["exif-original"] * 4 + ["exif-datetime", "file-mtime"]
    dates[5] = datetime(2019, 7, 3)  # a file-time guess that falls inside the summer range
    catalog.set_model("m", "m-id", 4)
    catalog.store_batch(
        [
            (ids[r], np.ones(4, np.float32) / 2, PhotoMeta(10, 10, taken_at=d, taken_source=src), None)
            for r, d, src in zip(rels, dates, sources, strict=True)
        ],
        [],
    )
    return catalog, ids


def test_filters_select_folder_subtrees_exactly(tmp_path: Path) -> None:
    catalog, ids = _filled_catalog(tmp_path)

    def names(**kw: object) -> set[str]:
        by_id = {v: k for k, v in ids.items()}
        return {by_id[i] for i in catalog.filtered_ids(SearchFilters(**kw))}

    # "2019/Trips" must not match the sibling "2019/Trips_old" ("_" is a LIKE wildcard).
    assert names(folder="2019/Trips") == {"2019/Trips/a.jpg", "2019/Trips/deep/b.jpg"}
    assert names(folder="2019/Trips/") == {"2019/Trips/a.jpg", "2019/Trips/deep/b.jpg"}
    assert names(folder="2019") == {"2019/Trips/a.jpg", "2019/Trips/deep/b.jpg", "2019/Trips_old/c.jpg"}
    assert names(date_from=datetime(2019, 6, 1), date_to=datetime(2019, 9, 30, 23, 59, 59)) == {
        "2019/Trips/a.jpg",
        "2019/Trips/deep/b.jpg",
        "f.jpg",  # dated by its file time
    }
    assert names(date_from=datetime(2019, 12, 1)) == {"e.jpg"}
    assert names(date_from=datetime(2019, 12, 1), include_undated=True) == {"e.jpg", "f.jpg", "2019_x/d.jpg"}
    assert catalog.folders() == ["2019", "2019/Trips", "2019/Trips/deep", "2019/Trips_old", "2019_x"]


def test_catalog_consistency_after_batches(tmp_path: Path) -> None:
    catalog, ids = _filled_catalog(tmp_path)
    assert catalog.consistency_problems() == []
    assert catalog.counts() == {"indexed": 6, "pending": 0, "skipped": 0, "offline": 0}
    [(got_ids, vectors)] = list(catalog.iter_vectors())
    assert vectors.dtype == np.float32 and vectors.shape == (6, 4)
    np.testing.assert_allclose(vectors, 0.5)


# -- vector index ------------------------------------------------------------------------------


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_vector_index_exact_top_k_with_and_without_filter() -> None:
    rng = np.random.default_rng(0)
    vecs = _unit(rng, 500, 16)
    ids = np.arange(1000, 1500, dtype=np.int64)
    index = VectorIndex(16)
    index.add(ids, vecs)
    q = vecs[7]
    scores, got = index.search(q, 10)
    expected = ids[np.argsort(-(vecs @ q))[:10]]
    assert list(got) == list(expected) and got[0] == 1007
    allowed = ids[ids % 7 == 0]
    scores, got = index.search(q, 10, allowed)
    assert len(got) == 10 and set(got) <= set(allowed)
    mask = np.isin(ids, allowed)
    assert list(got) == list(ids[mask][np.argsort(-(vecs[mask] @ q))[:10]])
    index.remove([1007])
    assert 1007 not in index.search(q, 10)[1]
    # An id the catalog committed a moment ago but the index has not received yet is skipped.
    assert list(index.search(q, 5, np.array([1003, 5_000_000], dtype=np.int64))[1]) == [1003]


def test_vector_cache_is_rejected_when_stale_or_damaged(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(8)
    index.add(np.arange(20, dtype=np.int64), _unit(rng, 20, 8))
    path = tmp_path / "vectors.faiss"
    stamp = IndexStamp(generation=3, identity="m", count=20, dim=8)
    index.save(path, stamp)
    loaded = VectorIndex.load(path, stamp)
    assert loaded is not None and len(loaded) == 20
    assert VectorIndex.load(path, IndexStamp(4, "m", 20, 8)) is None  # catalog moved on
    assert VectorIndex.load(path, IndexStamp(3, "other-model", 20, 8)) is None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the vectors
    path.write_bytes(bytes(data))
    assert VectorIndex.load(path, stamp) is None


def _clustered(rng: np.random.Generator, clusters: int, per: int, d: int) -> np.ndarray:
    """Photo-like structure: tight groups around distinct centres."""
    centres = _unit(rng, clusters, d)
    x = np.repeat(centres, per, axis=0) + 0.35 * rng.standard_normal((clusters * per, d)).astype(np.float32) / np.sqrt(d)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_approximate_layer_recall_filters_and_updates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import photosearch_desktop.engine.store.vector_index as vi

    monkeypatch.setattr(vi, "EXACT_MAX", 2_000)
    monkeypatch.setattr(vi, "SUBSET_EXACT_MAX", 300)
    rng = np.random.default_rng(3)
    vecs = _clustered(rng, 400, 15, 32)
    ids = np.arange(10, 10 + len(vecs), dtype=np.int64)
    stored = dict(zip(ids.tolist(), vecs.astype(np.float16).astype(np.float32), strict=True))  # what the catalog holds
    reads: list[int] = []

    def exact_vectors(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reads.append(len(wanted))
        found = np.array([i for i in wanted.tolist() if i in stored], dtype=np.int64)
        return found, np.array([stored[i] for i in found.tolist()]).reshape(len(found), 32)

    index = vi.VectorIndex(32, exact_vectors)
    index.add(ids, vecs)
    assert index.ann_due()
    exact_before = index.search(vecs[0], 10)
    index.build_ann()
    assert index.approximate and not index.ann_due()
    # The store dropped to 8 bits per value; the final scores are the exact ones.
    assert index._coarse_store and faiss.downcast_index(index._store.index).codes.size() == len(vecs) * 32
    scores, got = index.search(vecs[0], 10)
    assert reads and max(reads) <= vi.REFINE * 10
    np.testing.assert_allclose(scores, [float(stored[i] @ vecs[0]) for i in got], rtol=0, atol=1e-6)
    assert list(got) == list(exact_before[1])

    queries = vecs[rng.choice(len(vecs), 30, replace=False)]
    recall = []
    for q in queries:
        exact = set(ids[np.argsort(-(vecs @ q))[:10]])
        recall.append(len(exact & set(index.search(q, 10)[1])) / 10)
    assert np.mean(recall) >= 0.95

    for allowed in (ids[::40], ids[ids % 3 == 0]):  # small (exhaustive) and large (IVF) filters
        scores, got = index.search(queries[0], 20, allowed)
        assert len(got) == 20 and set(got) <= set(allowed)
        assert np.all(np.diff(scores) <= 1e-6)

    new = _unit(rng, 5, 32)
    stored.update(zip(range(100_000, 100_005), new.astype(np.float16).astype(np.float32), strict=True))  # the catalog first
    index.add(np.arange(100_000, 100_005, dtype=np.int64), new)  # no rebuild needed
    assert index.search(new[2], 1)[1][0] == 100_002
    index.remove([100_002])
    assert 100_002 not in index.search(new[2], 5)[1]

    path = tmp_path / "v.faiss"
    stamp = vi.IndexStamp(1, "m", len(index), 32)
    index.save(path, stamp)
    loaded = vi.VectorIndex.load(path, stamp, exact_vectors)
    assert loaded is not None and loaded.approximate and loaded._coarse_store
    assert list(loaded.search(queries[1], 10)[1]) == list(index.search(queries[1], 10)[1])
    # A cache saved with a float16 store next to its approximate index (an earlier version)
    # moves to 8 bits when loaded.
    old = vi.VectorIndex(32)
    old.add(ids, vecs)
    old._ann, old._ann_trained_at = index._ann, index._ann_trained_at
    assert not old._coarse_store
    old_path = tmp_path / "old.faiss"
    old.save(old_path, stamp)
    upgraded = vi.VectorIndex.load(old_path, stamp, exact_vectors)
    assert upgraded is not None and upgraded.compact() and upgraded._coarse_store and not upgraded.compact()
    assert list(upgraded.search(queries[1], 10)[1]) == list(index.search(queries[1], 10)[1])

    ivf = path.with_suffix(".ivf")
    data = bytearray(ivf.read_bytes())
    data[len(data) // 3] ^= 0x10
    ivf.write_bytes(bytes(data))
    assert vi.VectorIndex.load(path, stamp) is None
