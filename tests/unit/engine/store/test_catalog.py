"""The SQLite catalog: schema and migrations, damage, filters, consistency (engine/store/catalog.py)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from imagegen import random_bytes

from photosearch_desktop.engine.errors import CatalogError
from photosearch_desktop.engine.records import PhotoMeta, SearchFilters
from photosearch_desktop.engine.store.catalog import SCHEMA_VERSION, Catalog


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


# The vector moved to another photo's row.
@pytest.mark.expect_log(r"^1 stored vectors in .*c\.sqlite failed their checksum: left out$")
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


def test_a_damaged_catalog_is_closed_before_it_is_moved_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows cannot rename an open file: the connection that found the damage must be closed
    when the error leaves Catalog(), not whenever the traceback is dropped."""
    from photosearch_desktop.engine.errors import CatalogDamaged

    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")  # a SQLite file, but not a catalog
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.close()
    opened: list[sqlite3.Connection] = []
    real_connect = Catalog._connect

    def connect(self: Catalog) -> sqlite3.Connection:
        opened.append(real_connect(self))
        return opened[-1]

    monkeypatch.setattr(Catalog, "_connect", connect)
    with pytest.raises(CatalogDamaged):
        Catalog(path)
    assert opened
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")
    Catalog.move_aside(path)  # what recovery does next: possible on every platform now


def test_records_read_at_once_equal_those_read_row_by_row(tmp_path: Path) -> None:
    """Catalog.photos reads a chunk as one JSON value: every kind of value comes back exact."""
    from photosearch_desktop.engine.store.catalog import path_to_db

    catalog = Catalog(tmp_path / "c.sqlite")
    names = ["a.jpg", 'Ferien "2019"/\\ö\tx.jpg', "bad-\udce9.jpg", "日本/写真.heic"]
    rows = [
        (1, path_to_db(names[0]), "", 2**40 + 3, 1_700_000_000_123_456_789, 4032, 3024, "2019-07-01 12:34:56",
         "exif", "Canon", 'EOS "R"', 48.858370123456789, 2.2944813000000001, "indexed", None, "JPEG"),
        (2, path_to_db(names[1]), path_to_db('Ferien "2019"'), 1, 2, None, None, None, None, None, None,
         None, None, "skipped", "cannot decode: 'bad'\nmarker\x01", None),
        (3, path_to_db(names[2]), "", 5, 6, 10, 20, None, None, None, None, -33.0, 1e-7, "pending", None, "PNG"),
        (4, path_to_db(names[3]), path_to_db("日本"), 7, 8, 1, 1, None, None, None, None, 0.1 + 0.2, -0.0,
         "indexed", None, "HEIF"),
    ]
    with catalog.conn:
        catalog.conn.executemany(
            "INSERT INTO photos(id, rel_path, folder, size, mtime_ns, width, height, taken_at, taken_source, "
            "camera_make, camera_model, gps_lat, gps_lon, status, error, format) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    at_once = catalog.photos([4, 3, 2, 1, 99])
    assert sorted(at_once) == [1, 2, 3, 4]
    for photo_id, name in enumerate(names, start=1):
        assert at_once[photo_id] == catalog.photo_by_path(name)
    assert at_once[1].gps_lat == 48.858370123456789 and at_once[4].gps_lat == 0.1 + 0.2
    assert at_once[2].gps_lat is None and at_once[2].error == "cannot decode: 'bad'\nmarker\x01"


def test_records_are_read_row_by_row_where_sqlite_has_no_json_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photosearch_desktop.engine.store import catalog as catalog_module

    monkeypatch.setattr(catalog_module, "_json_reads", True)  # put back as it was after the test
    catalog = Catalog(tmp_path / "c.sqlite")
    with catalog.conn:
        catalog.conn.execute("INSERT INTO photos(id, rel_path, folder, size, mtime_ns, status, gps_lat) "
                             "VALUES (5, 'a/b.jpg', 'a', 1, 2, 'indexed', 1.25)")
    expected = catalog.photos([5])
    # As an SQLite built without JSON1 answers: "no such function".
    monkeypatch.setattr(catalog_module, "_PHOTO_JSON", "no_such_function(id)")
    assert catalog.photos([5]) == expected and catalog_module._json_reads is False
    assert catalog.photos([5]) == expected  # and stays on rows from then on
