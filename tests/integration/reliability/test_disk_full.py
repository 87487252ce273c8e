"""Reliability (GitHub issue #6), end to end through Library and the command line, part 4a:
storage faults, a full disk (SQLite told it has no more pages, a failing write of the vector
cache, and a small tmpfs filled for real where possible)."""

from __future__ import annotations

import builtins
import errno
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from childproc import driver
from e2e import all_vectors, brute_force, can_unshare_mount, cli, cli_env, model_args, open_lib
from libgen import LAYOUT, make_library, write_photo
from whitebox import catalog_of

from photosearch_desktop.engine.errors import Action, DiskFull
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.records import PipelineOptions
from photosearch_desktop.engine.store.catalog import DISK_FULL_MESSAGE, Catalog

pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def _limit_catalog_growth(monkeypatch: pytest.MonkeyPatch, extra_pages: int = 0) -> None:
    """Every new catalog connection may only use the pages the file has now: SQLite then
    fails exactly as on a full disk (SQLITE_FULL, "database or disk is full")."""
    real = Catalog._connect

    def connect(self):  # type: ignore[no-untyped-def]
        conn = real(self)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + extra_pages}")
        return conn

    monkeypatch.setattr(Catalog, "_connect", connect)


def _snapshot_search(lib: Library, query_id: int) -> list[tuple[int, float]]:
    return [(r.photo.id, round(r.score, 5)) for r in lib.search_photo(query_id, k=10)]


def test_disk_full_while_writing_the_catalog(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    query = catalog_of(lib).photo_by_path("2020/home_00.jpg").id
    before = _snapshot_search(lib, query)
    lib.close()
    for i in range(150):
        write_photo(root / "new" / f"n{i:03d}.jpg", seed=7000 + i, size=(64, 48))

    # (a) The scan's changes do not fit: the command line says so in one line, exit 1.
    with monkeypatch.context() as mp:
        _limit_catalog_growth(mp)
        code, _, err = cli(capsys, "index", root, *model_args(tiny_clip), "-q")
        assert code == 1 and err.strip() == f"photosearch: error: {DISK_FULL_MESSAGE} Free some space, then run the command again."
        code, out, err = cli(capsys, "status", root, "--json")  # opening writes nothing: works on a full disk
        assert code == 0, err
        assert json.loads(out)["indexed"] == len(LAYOUT) and json.loads(out)["pending"] == 0
        code, out, err = cli(capsys, "search", root, "--photo", "2020/home_00.jpg", "-k", "10", "--json", "--no-collapse")
        assert code == 0, err
        found = json.loads(out)  # the previous index, as it was:
        assert [r["id"] for r in found] == [pid for pid, _ in before]
        np.testing.assert_allclose([r["score"] for r in found], [score for _, score in before], atol=2e-5)

    # (b) The disk fills up while embedding: committed batches stay, the rest stays pending.
    lib = open_lib(root, tiny_clip, data_dir)
    commits = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.phase == "embedding" and p.done and not commits:
            commits.append(p.done)
            pages = catalog_of(lib).conn.execute("PRAGMA page_count").fetchone()[0]
            catalog_of(lib).conn.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(DiskFull, match="nothing was lost") as full:
        lib.index(progress=progress, options=PipelineOptions(batch_size=8, commit_every=8))
    assert Action.FREE_DISK in full.value.hint
    assert catalog_of(lib).consistency_problems() == []
    counts = catalog_of(lib).counts()
    assert counts["pending"] > 0 and counts["indexed"] >= len(LAYOUT)
    # The index in memory holds exactly what was committed: searching goes on.
    got = lib.search_photo(query, k=10)
    assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[query], 10, (query,))
    lib.close()

    # The previous index is intact and usable from a new process's point of view.
    lib = open_lib(root, tiny_clip, data_dir)
    assert catalog_of(lib).consistency_problems() == []
    got = lib.search_photo(query, k=10)
    assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[query], 10, (query,))
    # Space is back: the next run finishes the job.
    report = lib.index()
    assert report.embedded == counts["pending"] and lib.status().pending == 0
    assert lib.status().indexed == len(LAYOUT) + 150
    lib.close()


def test_disk_full_while_saving_the_vector_cache(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    write_photo(root / "new" / "a.jpg", seed=9001)
    real_open = builtins.open

    class FullDisk(io.RawIOBase):
        """Takes half of the first write, then ENOSPC."""

        def __init__(self, fh) -> None:  # type: ignore[no-untyped-def]
            self.fh = fh

        def write(self, data) -> int:  # type: ignore[no-untyped-def]
            self.fh.write(bytes(data)[: max(1, len(data) // 2)])
            raise OSError(errno.ENOSPC, "No space left on device")

        def fileno(self) -> int:
            return self.fh.fileno()

        def close(self) -> None:
            self.fh.close()
            super().close()

    def full_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        fh = real_open(file, mode, *args, **kwargs)
        if "w" in mode and str(file).startswith(str(data_dir)) and str(file).endswith(".tmp"):
            return FullDisk(fh)
        return fh

    monkeypatch.setattr(builtins, "open", full_open)
    report = lib.index()  # the cache is optional: the run still succeeds
    monkeypatch.undo()
    assert report.embedded == 1
    assert list(data_dir.rglob("*.tmp")) == []  # no half-written file left behind
    lib.close()
    lib = open_lib(root, tiny_clip, data_dir)  # the stale cache is rejected and rebuilt
    query = catalog_of(lib).photo_by_path("new/a.jpg").id
    got = lib.search_photo(query, k=10)
    assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[query], 10, (query,))
    lib.close()


@pytest.mark.slow
@pytest.mark.skipif(not can_unshare_mount(), reason="needs root and unshare -m (a private 3 MB tmpfs)")
def test_disk_full_for_real_on_a_small_filesystem(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    data = tmp_path / "data"
    data.mkdir()
    done = subprocess.run(
        ["unshare", "-m", sys.executable, driver("full_disk_tmpfs"), str(data), str(root), str(tiny_clip[1]), tiny_clip[0],
         str(tiny_clip[2])],
        env=cli_env(data), capture_output=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    line = next(x for x in done.stdout.decode().splitlines() if x.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    print(json.dumps(r, indent=1))
    assert r["first_index"] == 0 and r["search_before"][0] == 0
    assert r["free_bytes"] == 0
    assert r["full_index"] == [1, f"photosearch: error: {DISK_FULL_MESSAGE} Free some space, then run the command again."]
    assert r["full_status"][0] == 0 and r["full_status"][1]["indexed"] == len(LAYOUT), r["full_status"]
    assert r["full_search"] == r["search_before"]  # the previous index answers as before
    assert r["full_consistency"] == []
    if r["thumbnail_on_full_disk"] is not None:
        assert r["thumbnail_on_full_disk"]["shown"] and r["thumbnail_on_full_disk"]["cached_jpgs_valid"]
    assert r["after_freeing"][0] == 0, r["after_freeing"]
    assert r["final_status"]["indexed"] == len(LAYOUT) + 150 and r["final_status"]["pending"] == 0
    assert r["final_consistency"] == []
