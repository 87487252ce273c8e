"""Offline photos in the catalog: kept with their vectors, left out of every list of photos."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from photosearch_desktop.engine.records import OfflineFolder, PhotoMeta, SearchFilters, SkippedFile
from photosearch_desktop.engine.store.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog

RELS = ["2019/Trips/a.jpg", "2019/Trips/b.jpg", "2019/Home/c.jpg", "2020/d.jpg", "2020/e.jpg", "f.jpg", "g.jpg"]


def filled(tmp_path: Path) -> tuple[Catalog, dict[str, int]]:
    catalog = Catalog(tmp_path / "c.sqlite")
    # b and e are byte-identical copies of a and d (same size and fingerprint).
    sizes = {"2019/Trips/b.jpg": 10, "2019/Trips/a.jpg": 10, "2020/d.jpg": 20, "2020/e.jpg": 20}
    catalog.apply_changes([(r, sizes.get(r, 30 + i), 1, None) for i, r in enumerate(RELS)], [], [], [], [])
    ids = {r: k.id for r, k in catalog.known_files().items()}
    fps = {"2019/Trips/a.jpg": "x", "2019/Trips/b.jpg": "x", "2020/d.jpg": "y", "2020/e.jpg": "y"}
    catalog.set_model("m", "m-id", 4)
    catalog.store_batch(
        [(ids[r], np.full(4, 0.5, np.float32), PhotoMeta(10, 10), fps.get(r)) for r in RELS if r != "g.jpg"],
        [(ids["g.jpg"], "Cannot be read: I/O error", None)],
    )
    return catalog, ids


def test_offline_photos_keep_their_vectors_and_leave_every_list(tmp_path: Path) -> None:
    catalog, ids = filled(tmp_path)
    assert sorted(catalog.same_fingerprint_sets()) == sorted([[ids["2019/Trips/a.jpg"], ids["2019/Trips/b.jpg"]],
                                                              [ids["2020/d.jpg"], ids["2020/e.jpg"]]])
    generation = catalog.generation
    away = [ids[r] for r in RELS if r.startswith("2019/")] + [ids["g.jpg"]]
    catalog.apply_changes([], [], [], [], [], offline=away)
    assert catalog.generation > generation  # the searchable vectors changed: caches are stale

    assert catalog.counts() == {"indexed": 3, "pending": 0, "skipped": 0, "offline": 4}
    assert catalog.offline_count() == 4 and catalog.vector_count() == len(RELS) - 1
    assert catalog.consistency_problems() == []
    assert set(catalog.filtered_ids(SearchFilters(folder="2020")).tolist()) == {ids["2020/d.jpg"], ids["2020/e.jpg"]}
    assert catalog.filtered_ids(SearchFilters(folder="2019")).tolist() == []
    assert catalog.folders() == ["2020"]
    assert catalog.same_fingerprint_sets() == [[ids["2020/d.jpg"], ids["2020/e.jpg"]]]
    assert catalog.skipped() == []  # g.jpg's reason is not news while it is offline
    [(got, _)] = list(catalog.iter_vectors())
    assert sorted(got.tolist()) == sorted(ids[r] for r in ("2020/d.jpg", "2020/e.jpg", "f.jpg"))
    assert catalog.offline_folders() == [OfflineFolder("", 1), OfflineFolder("2019", 3)]
    known = catalog.known_files()
    assert known["2019/Home/c.jpg"].offline and not known["f.jpg"].offline

    catalog.apply_changes([], [], [], [], [], online=away)
    assert catalog.counts() == {"indexed": 6, "pending": 0, "skipped": 1, "offline": 0}
    assert catalog.skipped() == [SkippedFile("g.jpg", "Cannot be read: I/O error")]
    assert len(next(catalog.iter_vectors())[0]) == len(RELS) - 1


def test_offline_pending_photos_wait(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.apply_changes([("a/x.jpg", 1, 1, None), ("b/y.jpg", 2, 1, None)], [], [], [], [])
    ids = {r: k.id for r, k in catalog.known_files().items()}
    catalog.apply_changes([], [], [], [], [], offline=[ids["a/x.jpg"]])
    assert catalog.pending() == [(ids["b/y.jpg"], "b/y.jpg")]
    assert catalog.offline_folders() == [OfflineFolder("a", 1)]


def test_the_deepest_common_folder_names_a_group(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    rels = ["2019/Summer/Beach/a.jpg", "2019/Summer/b.jpg", "2019/Winter/c.jpg"]
    catalog.apply_changes([(r, 1, 1, None) for r in rels], [], [], [], [])
    ids = {r: k.id for r, k in catalog.known_files().items()}
    catalog.apply_changes([], [], [], [], [], offline=[ids[rels[0]], ids[rels[1]]])
    assert catalog.offline_folders() == [OfflineFolder("2019/Summer", 2)]


def test_a_schema_4_catalog_gains_the_offline_flag(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:4]:
        conn.executescript(script.replace("vector_check(photo_id, vec)", "NULL"))
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO photos(id, rel_path, folder, size, mtime_ns, status) VALUES (3, 'a/b.jpg', 'a', 1, 1, 'pending')")
    conn.commit()
    conn.close()
    catalog = Catalog(path)
    assert catalog.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not catalog.known_files()["a/b.jpg"].offline and catalog.pending() == [(3, "a/b.jpg")]
    plan = " ".join(str(r) for r in catalog.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM photos WHERE status = 'indexed' AND offline = 0 AND folder = ?", ("a",)
    ))
    assert "COVERING INDEX photos_status_folder" in plan  # filters still read the index alone
