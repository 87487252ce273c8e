"""Reliability (GitHub issue #6), end to end through Library and the command line, part 5:
concurrency (searching while indexing, two writers)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from childproc import driver
from e2e import all_vectors, brute_force, cli_env, cli_process, model_args, open_lib, run_cli
from libgen import LAYOUT, make_library, write_photo
from whitebox import catalog_of, index_of

from photosearch_desktop.engine.errors import LibraryBusy
from photosearch_desktop.engine.records import PipelineOptions

pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def _grow(root: Path, count: int, seed: int = 6000) -> None:
    for i in range(count):
        write_photo(root / "more" / f"m{i:03d}.jpg", seed=seed + i, size=(64, 48))


def test_searching_while_indexing_from_other_threads(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    _grow(root, 160)
    deleted = {"2019/Home/home_05.jpg", "2020/home_05.jpg"}
    for rel in deleted:
        (root / rel).unlink()
    write_photo(root / "2019/Home/home_04.jpg", seed=4444)  # edited: its vector is replaced
    query_path = root / "2019/Trips/trip_00.jpg"
    query_id = catalog_of(lib).photo_by_path("2019/Trips/trip_00.jpg").id
    stop = threading.Event()
    errors: list[str] = []
    counts = {"searches": 0}

    def check(results) -> None:  # type: ignore[no-untyped-def]
        scores = [r.score for r in results]
        assert scores == sorted(scores, reverse=True), scores
        assert len({r.photo.id for r in results}) == len(results)
        for r in results:
            assert r.photo is not None and r.photo.rel_path
            assert r.photo.rel_path in deleted or Path(r.abs_path).is_file(), r.abs_path

    def searcher(kind: str) -> None:
        while not stop.is_set():
            try:
                if kind == "photo":
                    check(lib.search_photo(query_id, k=20))
                elif kind == "image":
                    check(lib.search_image(query_path, k=20))
                elif kind == "text":
                    check(lib.search_text("a blue circle", k=20))
                else:
                    from photosearch_desktop.engine.records import SearchFilters

                    found = lib.search_photo(query_id, k=20, filters=SearchFilters(folder="more"))
                    check(found)
                    assert all(r.photo.rel_path.startswith("more/") for r in found)
                counts["searches"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                return

    threads = [threading.Thread(target=searcher, args=(k,)) for k in ("photo", "image", "text", "filtered")]
    for t in threads:
        t.start()
    try:
        report = lib.index(options=PipelineOptions(batch_size=4, commit_every=8, commit_seconds=0.05))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert errors == []
    assert counts["searches"] >= 8 and report.embedded == 161
    # After the run, the same Library object answers exactly what its catalog holds.
    assert catalog_of(lib).consistency_problems() == []
    for rel in ("2019/Trips/trip_00.jpg", "2019/Home/home_04.jpg", "more/m010.jpg"):
        pid = catalog_of(lib).photo_by_path(rel).id
        got = lib.search_photo(pid, k=15)
        assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[pid], 15, (pid,)), rel
    lib.close()


# Both processes save and load the vector cache: neither may see the other's half-written cache
# (no warning is expected: a save that lost a race, or a cache found damaged, would fail this).
@pytest.mark.slow
def test_searching_from_this_process_while_another_process_indexes(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    data = data_dir
    assert run_cli(tiny_clip, data, "index", root, *model_args(tiny_clip), "-q")[0] == 0
    _grow(root, 300)
    (root / "2020/home_03.jpg").unlink()
    indexer = cli_process(tiny_clip, data, "index", root, *model_args(tiny_clip), "--batch-size", "4",
                          "--commit-every", "8", "-q", "--json")
    lib = open_lib(root, tiny_clip, data)
    query_id = catalog_of(lib).photo_by_path("2019/Trips/trip_00.jpg").id
    searches, sizes, other = 0, set(), None
    try:
        while indexer.poll() is None:
            results = lib.search_photo(query_id, k=40)  # reloads whenever the other process committed
            scores = [r.score for r in results]
            assert scores == sorted(scores, reverse=True)
            assert all(r.photo is not None for r in results)
            sizes.add(len(index_of(lib)))
            searches += 1
            if other is None and lib.status().indexed > len(LAYOUT) + 40:
                # ... and a third process searches too, through the command line.
                other = cli_process(tiny_clip, data, "search", root, "--photo", "2019/Trips/trip_01.jpg", "-k", "30", "--json")
        out, err = indexer.communicate(timeout=300)
        assert indexer.returncode == 0, err.decode()
        assert json.loads(out)["embedded"] == 300
        assert other is not None
        o_out, o_err = other.communicate(timeout=120)
        assert other.returncode == 0, o_err.decode()
        third = json.loads(o_out)
        assert [r["score"] for r in third] == sorted((r["score"] for r in third), reverse=True)
        assert all(Path(r["abs_path"]).is_file() for r in third)
    finally:
        if indexer.poll() is None:
            indexer.kill()
    assert searches >= 3 and len(sizes) >= 2  # searches saw the index grow
    got = lib.search_photo(query_id, k=20)
    assert [r.photo.id for r in got] == brute_force(lib, all_vectors(catalog_of(lib))[query_id], 20, (query_id,))
    assert catalog_of(lib).consistency_problems() == []
    lib.close()


def test_two_writers_in_one_process_the_second_is_told_it_is_busy(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    first, second = open_lib(root, tiny_clip, data_dir), open_lib(root, tiny_clip, data_dir)
    inside, tried = threading.Event(), threading.Event()

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.phase == "embedding" and not inside.is_set():
            inside.set()
            tried.wait(30)  # hold the first writer mid-run until the second has tried

    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("report", first.index(progress=progress)))
    worker.start()
    assert inside.wait(60)
    with pytest.raises(LibraryBusy, match="Another PhotoSearch window or command is updating this library right now"):
        second.index()
    tried.set()
    worker.join(60)
    assert result["report"].embedded == len(LAYOUT)
    assert second.index().embedded == 0  # once free, the second finds nothing left to do
    assert catalog_of(first).consistency_problems() == []
    first.close()
    second.close()


def _slow_index(tmp_path: Path, root: Path, tiny_clip, data_dir: Path, decodes: int, *args: str) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    """``photosearch index ROOT ARGS`` in another process on a slow disk (one decode thread,
    0.2 s a decode), returned once ``decodes`` decodes have started."""
    marker = tmp_path / "decodes-started"
    run = subprocess.Popen(
        [sys.executable, driver("cli_with_slow_decodes"), str(tiny_clip[2]), str(marker), "index", str(root),
         *model_args(tiny_clip), "--workers", "1", *args],
        env=cli_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while (not marker.exists() or marker.stat().st_size < decodes) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not marker.exists() or marker.stat().st_size < decodes:
        run.kill()
        raise AssertionError(run.communicate()[1].decode() or "no start")
    return run

@pytest.mark.slow
def test_two_writers_in_two_processes_the_second_is_told_it_is_busy(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    data = data_dir
    # (a) Another process writes: this one is refused.
    other = _slow_index(tmp_path, root, tiny_clip, data, 1, "-q", "--json")
    try:
        lib = open_lib(root, tiny_clip, data)
        with pytest.raises(LibraryBusy, match="updating this library right now"):
            lib.index()
        # Reading goes on meanwhile.
        lib.status()
        out, err = other.communicate(timeout=300)
        assert other.returncode == 0, err.decode()
        assert json.loads(out)["embedded"] == len(LAYOUT)
    finally:
        if other.poll() is None:
            other.kill()

    # (b) This process writes: the command line in another one is refused, in one line.
    _grow(root, 30)
    inside, tried = threading.Event(), threading.Event()

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.phase == "embedding" and not inside.is_set():
            inside.set()
            tried.wait(120)

    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("report", lib.index(progress=progress)))
    worker.start()
    try:
        assert inside.wait(60)
        code, out, err = run_cli(tiny_clip, data, "index", root, *model_args(tiny_clip), "-q")
    finally:
        tried.set()
        worker.join(120)
    assert code == 1
    assert err.strip() == (
        "photosearch: error: Another PhotoSearch window or command is updating this library right now. "
        "Wait for it to finish, then try again."
    )
    assert result["report"].embedded == 30
    assert catalog_of(lib).consistency_problems() == [] and lib.status().pending == 0
    lib.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is a POSIX signal; Windows sends CTRL_C_EVENT")
def test_ctrl_c_once_saves_the_photos_in_progress_and_the_next_run_resumes(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The first Ctrl+C stops the run after the photos in progress and saves them (it used to
    raise at once and lose every photo finished since the last save); the next run embeds only
    the rest."""
    root = make_library(tmp_path / "lib")
    # Eight decodes started one after another (one decode thread): the first batches have
    # reached the model by then.
    run = _slow_index(tmp_path, root, tiny_clip, data_dir, 8, "--commit-every", "1000")
    try:
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    said = err.decode()
    assert run.returncode == 130, said
    assert "Stopping after the photos in progress" in said and "Interrupted: " in said and "Traceback" not in said
    lib = open_lib(root, tiny_clip, data_dir)
    counts = lib.counts()
    assert counts["indexed"] >= 1 and counts["pending"] >= 1 and counts["indexed"] + counts["pending"] == len(LAYOUT)
    assert lib.index().embedded == counts["pending"]
    lib.close()
