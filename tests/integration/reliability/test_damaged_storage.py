"""Reliability (GitHub issue #6), end to end through Library and the command line, part 4b:
storage faults, a damaged catalog or vector cache."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from e2e import all_vectors, brute_force, cli, open_lib
from libgen import LAYOUT, make_library
from whitebox import catalog_of

from photosearch_desktop.engine.errors import CatalogDamaged, LibraryBusy, LibraryError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.store.index_cache import IndexCache

pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(7)
    if how == "header":
        data[:100] = rng.integers(0, 256, 100, dtype=np.uint8).tobytes()
    elif how == "garbage":
        data = bytearray(rng.integers(0, 256, len(data), dtype=np.uint8).tobytes())
    elif how == "truncated":
        data = data[: len(data) // 2 + 100]
    elif how == "btree":
        # Every b-tree page but the schema's and the meta table's: the cheap checks on open
        # pass, so it is the indexer's full check that must catch it.
        conn = sqlite3.connect(path)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        keep = {1, conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").fetchone()[0]}
        conn.close()
        for page in range(2, len(data) // page_size + 1):
            if page not in keep:
                data[(page - 1) * page_size] = 0x00  # not a valid page type
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["header", "garbage", "truncated", "btree"])
def test_a_damaged_catalog_is_moved_aside_and_rebuilt(tmp_path: Path, tiny_clip, data_dir: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    path = catalog_of(lib).path
    lib.close()
    assert not path.with_name(path.name + "-wal").exists()  # a clean close leaves one file
    original = path.read_bytes()
    _damage(path, how)

    lib = open_lib(root, tiny_clip, data_dir)  # header damage is seen here, deeper damage by index()
    report = lib.index()
    assert len(lib.notices) == 1 and "moved aside" in lib.notices[0] and "damaged" in lib.notices[0]
    [aside] = [p for p in path.parent.glob("catalog.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() != original  # the damaged file is kept for a post-mortem
    assert report.embedded == len(LAYOUT) and lib.status().indexed == len(LAYOUT)
    assert catalog_of(lib).consistency_problems() == []
    query = catalog_of(lib).photo_by_path("2019/Home/home_01.jpg").id
    got = lib.search_photo(query, k=10)
    assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[query], 10, (query,))
    lib.close()


def test_a_damaged_catalog_is_reported_when_it_cannot_be_replaced(
    tmp_path: Path, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from photosearch_desktop.engine.system.lock import WriterLock

    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    path, lock = catalog_of(lib).path, lib.data_dir / "writer.lock"
    lib.close()
    _damage(path, "header")
    with pytest.raises(CatalogDamaged, match="damaged"):
        Library(root, data_dir=data_dir, readonly=True)
    with WriterLock(lock):  # another process is writing this library: leave its file alone
        with pytest.raises(LibraryBusy):
            open_lib(root, tiny_clip, data_dir)
    assert path.exists() and not list(path.parent.glob("catalog.sqlite.damaged-*"))
    # The command line replaces it and says so.
    code, out, err = cli(capsys, "status", root, "--json")
    assert code == 0, err
    assert json.loads(out)["total"] == 0
    assert err.count("moved aside") == 1, err  # said once, as a note


def test_a_cache_left_from_a_deleted_catalog_is_not_trusted(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    path = catalog_of(lib).path
    lib.close()
    for suffix in ("", "-wal", "-shm"):  # "start over": the user deletes the catalog, not the cache
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    a, b = root / "2019/Trips/trip_00.jpg", root / "2020/home_00.jpg"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    lib = open_lib(root, tiny_clip, data_dir)
    with monkeypatch.context() as mp:
        mp.setattr(IndexCache, "save", lambda self: None)  # killed after the last commit
        lib.index()
    lib.close()
    lib = open_lib(root, tiny_clip, data_dir)
    query = catalog_of(lib).photo_by_path("2019/Trips/trip_00.jpg").id
    got = lib.search_photo(query, k=len(LAYOUT) - 1)
    assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[query], len(LAYOUT) - 1, (query,))
    lib.close()


@pytest.mark.expect_log(
    r"^vector cache .*vectors\.faiss is damaged \(checksum mismatch\); rebuilding$",
    r"^vector cache .*vectors\.faiss is unreadable: ",
)
@pytest.mark.parametrize("how", ["flip", "truncate", "garbage-stamp", "empty"])
def test_a_damaged_vector_cache_is_rebuilt_not_trusted(tmp_path: Path, tiny_clip, data_dir: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    cache = lib.data_dir / "vectors.faiss"
    lib.close()
    assert cache.exists() and cache.with_suffix(".json").exists()
    data = cache.read_bytes()
    if how == "flip":
        cache.write_bytes(data[:200] + bytes([data[200] ^ 0x01]) + data[201:])
    elif how == "truncate":
        cache.write_bytes(data[: len(data) // 2])
    elif how == "garbage-stamp":
        cache.with_suffix(".json").write_text('{"generation": 1, "identity": 5')
    else:
        cache.write_bytes(b"")
    lib = open_lib(root, tiny_clip, data_dir)
    query = catalog_of(lib).photo_by_path("2019/Home/home_02.jpg").id
    got = lib.search_photo(query, k=10)
    assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[query], 10, (query,))
    lib.close()


@pytest.mark.expect_log(r"^1 stored vectors in .*catalog\.sqlite failed their checksum: left out$")
@pytest.mark.parametrize("cache", ["kept", "deleted"])
def test_a_bit_flipped_inside_a_stored_vector_is_never_searched_with(
    tmp_path: Path, tiny_clip, data_dir: Path, cache: str
) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    victim = catalog_of(lib).photo_by_path("2019/Home/home_02.jpg").id
    other = catalog_of(lib).photo_by_path("2019/Home/home_01.jpg").id
    truth = brute_force(lib, all_vectors(catalog_of(lib))[other], len(LAYOUT), (other,))
    (blob,) = catalog_of(lib).conn.execute("SELECT vec FROM vectors WHERE photo_id = ?", (victim,)).fetchone()
    path = catalog_of(lib).path
    lib.close()
    data = bytearray(path.read_bytes())
    assert data.count(blob) == 1
    data[data.index(blob) + len(blob) // 2] ^= 0x04  # one bit, inside the value: the file stays valid SQLite
    path.write_bytes(bytes(data))
    if cache == "deleted":  # the index is then built from the damaged catalog
        for f in lib.data_dir.glob("vectors.*"):
            f.unlink()

    lib = open_lib(root, tiny_clip, data_dir)
    with pytest.raises(LibraryError, match="not in the index"):
        lib.search_photo(victim)
    got = [r.photo.id for r in lib.search_photo(other, k=len(LAYOUT))]
    if cache == "kept":  # the cache was saved from intact vectors (and has its own checksum)
        assert got == truth
    else:
        assert got == [i for i in truth if i != victim]
        assert any("damaged vector" in n and "left out" in n for n in lib.notices), lib.notices

    report = lib.index()  # the indexer checks every checksum and embeds the photo again
    assert report.embedded == 1
    assert any("embedded again" in n for n in lib.notices), lib.notices
    assert catalog_of(lib).consistency_problems() == []
    (again,) = catalog_of(lib).conn.execute("SELECT vec FROM vectors WHERE photo_id = ?", (victim,)).fetchone()
    assert again == blob  # the same photo and model give the same vector
    assert [r.photo.id for r in lib.search_photo(other, k=len(LAYOUT))] == truth
    lib.close()
