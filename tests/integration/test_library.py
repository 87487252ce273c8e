"""The engine end to end through :class:`Library`, with the tiny CLIP model (real open_clip code)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from childproc import child_env, driver
from imagegen import random_bytes
from libgen import LAYOUT, make_library, near_copy, picture, tree_digest, write_photo
from whitebox import catalog_of

from photosearch_desktop.engine.errors import Action, LibraryBusy, LibraryError, ModelError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.records import SearchFilters
from photosearch_desktop.engine.store.catalog import Catalog


class Counter:
    """Counts photos passed to the model."""

    def __init__(self, lib: Library) -> None:
        self.photos = 0
        embedder = lib.embedder()
        real = embedder.encode_arrays

        def counting(batch: np.ndarray) -> np.ndarray:
            self.photos += len(batch)
            return real(batch)

        embedder.encode_arrays = counting  # type: ignore[method-assign]


def open_lib(root: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path) -> Library:
    name, weights, _ = tiny_clip
    return Library(root, data_dir=data_dir, model=name, weights=weights)


@pytest.fixture
def library(tmp_path: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path) -> Library:
    root = make_library(tmp_path / "Pictures")
    random_bytes(root / "broken.jpg")
    (root / "empty.jpg").write_bytes(b"")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    yield lib
    lib.close()


def rels(results) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.photo.rel_path for r in results]


def test_index_then_search_by_external_image(library: Library, tmp_path: Path) -> None:
    st = library.status()
    assert (st.indexed, st.pending, len(st.skipped)) == (len(LAYOUT), 0, 2)
    assert {s.rel_path for s in st.skipped} == {"broken.jpg", "empty.jpg"}
    assert all(s.reason for s in st.skipped)
    assert catalog_of(library).consistency_problems() == []

    query = tmp_path / "query.png"  # outside the library
    near_copy(picture(203)).save(query)
    results = library.search_image(query, k=5)
    assert rels(results)[0] == "2019/Home/home_03.jpg"
    assert len(results) == 5 and results[0].score > results[1].score
    assert results[0].abs_path == str(library.root / "2019/Home/home_03.jpg")


def test_query_photo_is_not_returned(library: Library) -> None:
    own = catalog_of(library).photo_by_path("2019/Trips/trip_02.jpg")
    results = library.search_photo(own.id, k=100)
    assert own.id not in [r.photo.id for r in results]
    assert len(results) == len(LAYOUT) - 1
    by_file = library.search_image(library.root / "2019/Trips/trip_02.jpg", k=100)
    assert "2019/Trips/trip_02.jpg" not in rels(by_file) and len(by_file) == len(LAYOUT) - 1


def test_filters_still_return_k_results(library: Library) -> None:
    own = catalog_of(library).photo_by_path("2019/Trips/trip_00.jpg")
    # The query's closest photos are mostly elsewhere, but 6 photos live in 2019/Home.
    home = library.search_photo(own.id, k=6, filters=SearchFilters(folder="2019/Home"))
    assert len(home) == 6 and all(r.startswith("2019/Home/") for r in rels(home))
    in_2019 = library.search_photo(own.id, k=30, filters=SearchFilters(folder="2019"))
    assert len(in_2019) == 13  # 14 photos under 2019, minus the query
    summer = SearchFilters(date_from=datetime(2019, 6, 1), date_to=datetime(2019, 9, 30, 23, 59, 59))
    got = library.search_photo(own.id, k=5, filters=summer)
    assert len(got) == 5 and all(r.startswith("2019/Trips/") for r in rels(got))
    # Scans carry no camera date: only "include undated" keeps them whatever their file date.
    future = SearchFilters(date_from=datetime(2030, 1, 1))
    assert library.search_photo(own.id, k=50, filters=future) == []
    undated = library.search_photo(own.id, k=50, filters=SearchFilters(date_from=datetime(2030, 1, 1), include_undated=True))
    assert sorted(rels(undated)) == [f"scans/scan_{i:02d}.jpg" for i in range(4)]
    assert {r.photo.taken_source for r in undated} == {"file-mtime"}
    weak = library.search_photo(own.id, k=50, filters=SearchFilters(min_score=0.999))
    assert all(r.score >= 0.999 for r in weak)


def test_text_search_uses_the_clip_text_tower(library: Library) -> None:
    results = library.search_text("dog on a beach", k=3)
    assert len(results) == 3 and results[0].score >= results[2].score


def test_text_search_on_image_only_model_says_what_to_do(tmp_path: Path, data_dir: Path) -> None:
    lib = Library(make_library(tmp_path / "lib"), data_dir=data_dir, model="efficientnet-lite2")
    catalog_of(lib).set_model("efficientnet-lite2", "as if indexed", 1280)  # the check must not need the model
    lib._index.get = lambda: [0]  # type: ignore[method-assign,assignment,return-value]
    with pytest.raises(ModelError, match="photos only") as info:
        lib.search_text("dog")
    assert Action.CHOOSE_MODEL in info.value.hint


def test_the_model_asked_for_is_kept_before_any_photo_is_embedded(tmp_path: Path, data_dir: Path) -> None:
    # A first run on an empty folder embeds nothing; the next run without a model named took
    # the default CLIP model, which offline cannot even be downloaded.
    root = tmp_path / "empty"
    root.mkdir()
    with Library(root, data_dir=data_dir, model="efficientnet-lite2") as lib:
        assert lib.index().embedded == 0
        assert lib.indexed_model is None
    with Library(root, data_dir=data_dir) as lib:
        assert lib.model_name == "efficientnet-lite2"
    with Library(root, data_dir=data_dir, model="clip-vit-b-32") as lib:  # named: it wins
        assert lib.model_name == "clip-vit-b-32"


def test_incremental_update_embeds_only_the_change(library: Library) -> None:
    root = library.root
    counter = Counter(library)
    moved_before = catalog_of(library).photo_by_path("2020/home_01.jpg")
    _, old_vec = catalog_of(library).vectors([moved_before.id])

    report = library.index()
    assert (counter.photos, report.unchanged, report.embedded) == (0, len(LAYOUT) + 2, 0)  # + 2 broken files

    write_photo(root / "2021/new_a.jpg", seed=900)
    write_photo(root / "2021/new_b.jpg", seed=901)
    write_photo(root / "2019/Home/home_00.jpg", seed=902)  # edited in place
    (root / "2020/home_01.jpg").rename(root / "2019/Trips/renamed.jpg")
    (root / "2020/home_02.jpg").unlink()
    report = library.index()
    assert (report.added, report.modified, report.moved, report.deleted) == (2, 1, 1, 1)
    # The two broken files are retried only when they change; the move is not re-embedded.
    assert counter.photos == 3

    moved = catalog_of(library).photo_by_path("2019/Trips/renamed.jpg")
    assert moved.id == moved_before.id and moved.status == "indexed"
    np.testing.assert_array_equal(catalog_of(library).vectors([moved.id])[1], old_vec)
    assert catalog_of(library).photo_by_path("2020/home_02.jpg") is None

    found = library.search_image(root / "2021/new_a.jpg", k=50)
    assert "2020/home_02.jpg" not in rels(found)
    assert rels(library.search_pil(picture(901), k=1)) == ["2021/new_b.jpg"]
    assert rels(library.search_pil(picture(902), k=1)) == ["2019/Home/home_00.jpg"]
    assert catalog_of(library).consistency_problems() == []


def test_photos_whose_times_alone_changed_are_not_embedded_again(library: Library) -> None:
    """The library copied to another drive without its times (or restored from a backup):
    every photo looks changed by its time, none is. Nothing is embedded, search never stops."""
    query = catalog_of(library).photo_by_path("2019/Trips/trip_05.jpg").id
    before = [(r.photo.id, r.score) for r in library.search_photo(query, k=10)]
    counter = Counter(library)
    for n, path in enumerate(sorted(p for p in library.root.rglob("*") if p.is_file())):
        os.utime(path, ns=(10**18 + n, 10**18 + n))

    report = library.index()
    assert (counter.photos, report.modified, report.embedded) == (0, 0, 0)
    assert report.unchanged == len(LAYOUT) + 2
    assert [(r.photo.id, r.score) for r in library.search_photo(query, k=10)] == before
    assert library.index().unchanged == len(LAYOUT) + 2 and counter.photos == 0
    assert catalog_of(library).consistency_problems() == []


@pytest.mark.expect_log(  # the cache flipped, then deleted
    r"^vector cache .*vectors\.faiss is damaged \(checksum mismatch\); rebuilding$",
    r"^vector cache .*vectors\.faiss is unreadable: ",
)
def test_vector_cache_reloads_and_matches_catalog(library: Library, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    query = catalog_of(library).photo_by_path("2019/Trips/trip_05.jpg").id
    before = [(r.photo.id, round(r.score, 5)) for r in library.search_photo(query, k=10)]
    library.close()
    cache = library.data_dir / "vectors.faiss"
    assert cache.exists()
    for damage in ("none", "flip", "delete"):
        if damage == "flip":
            data = bytearray(cache.read_bytes())
            data[-100] ^= 0x55
            cache.write_bytes(bytes(data))
        elif damage == "delete":
            cache.unlink()
        lib = open_lib(library.root, tiny_clip, data_dir)
        assert [(r.photo.id, round(r.score, 5)) for r in lib.search_photo(query, k=10)] == before
        lib.close()


# The test makes other random weights (open_clip says so, on the root logger), then the index is redone.
@pytest.mark.expect_log(
    r"^No pretrained weights loaded for model 'tiny-clip-test'",
    r"^model changed from open_clip/tiny-clip-test/\S+ to open_clip/tiny-clip-test/\S+: re-embedding everything$",
)
def test_changing_the_model_rebuilds_and_never_mixes(library: Library, tiny_clip, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import open_clip
    import torch

    name, _, _ = tiny_clip
    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    torch.save(open_clip.create_model("tiny-clip-test").state_dict(), other)
    library.close()
    lib = Library(library.root, data_dir=data_dir, model=name, weights=other)
    report = lib.index()
    assert report.rebuilt_for_model == name and report.embedded == len(LAYOUT)
    assert catalog_of(lib).get_meta("model_identity") == lib.embedder().identity
    assert catalog_of(lib).vector_count() == len(LAYOUT)
    lib.close()

    eff = Library(library.root, data_dir=data_dir, model="efficientnet-lite2")
    with pytest.raises(LibraryError, match="indexed with the model 'clip:tiny-clip-test'"):
        eff.search_image(library.root / "2020/home_00.jpg")


def test_second_writer_is_told_the_library_is_busy(library: Library, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from photosearch_desktop.engine.system.lock import WriterLock

    with WriterLock(library.data_dir / "writer.lock"):
        other = open_lib(library.root, tiny_clip, data_dir)
        with pytest.raises(LibraryBusy, match="updating this library"):
            other.index()
        # Reading still works while someone else writes.
        assert len(other.search_photo(catalog_of(library).photo_by_path("2020/home_00.jpg").id, k=3)) == 3
        other.close()


def test_cancel_keeps_finished_work(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from photosearch_desktop.engine.records import PipelineOptions

    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    cancel = threading.Event()
    seen: list[int] = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        seen.append(p.done)
        if p.done >= 8:
            cancel.set()

    report = lib.index(progress=progress, cancel=cancel, options=PipelineOptions(batch_size=4, commit_every=4))
    assert report.cancelled and 8 <= report.embedded < len(LAYOUT)
    assert catalog_of(lib).consistency_problems() == []
    assert lib.index().embedded == len(LAYOUT) - report.embedded


def test_library_files_are_never_touched_and_read_only_library_works(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    random_bytes(root / "junk.jpg")
    before = tree_digest(root)
    modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)  # read-only, like a read-only mount
    try:
        lib = open_lib(root, tiny_clip, data_dir)
        lib.index()
        lib.search_image(root / "2020/home_00.jpg", k=5)
        lib.search_text("a red square", k=5)
        lib.status()
        lib.close()
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert tree_digest(root) == before
    assert sorted(p.name for p in root.iterdir()) == sorted({r.split("/")[0] for r, _, _ in LAYOUT} | {"junk.jpg"})


def _run_cli(args: list[str], config: Path, data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, driver("cli_with_config"), str(config), *args],
        env=child_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _snapshot(root: Path, data_dir: Path) -> dict[str, tuple[str, np.ndarray | None]]:
    lib = Library(root, data_dir=data_dir)
    known = catalog_of(lib).known_files()
    ids, vecs = next(catalog_of(lib).iter_vectors(chunk=10_000))
    by_id = dict(zip(ids.tolist(), vecs, strict=True))
    out = {rel: (k.status, by_id.get(k.id)) for rel, k in known.items()}
    assert catalog_of(lib).consistency_problems() == []
    lib.close()
    return out


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_kill_during_indexing_then_resume_equals_uninterrupted_run(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    name, weights, config = tiny_clip
    root = tmp_path / "lib"
    for i in range(240):
        write_photo(root / f"f{i // 60}" / f"p{i:03d}.jpg", seed=5000 + i, size=(320, 240))
    args = ["index", str(root), "--model", name, "--weights", str(weights), "--batch-size", "8", "--commit-every", "16", "-q"]

    clean = tmp_path / "clean"
    assert _run_cli(args, config, clean).communicate(timeout=300) and True
    assert (clean / "libraries").is_dir()
    expected = _snapshot(root, clean)

    killed = tmp_path / "killed"
    catalog_path = None
    proc = _run_cli(args, config, killed)
    deadline = time.monotonic() + 120
    indexed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        catalogs = list(killed.glob("libraries/*/catalog.sqlite"))
        if catalogs:
            catalog_path = catalogs[0]
            try:
                indexed = Catalog(catalog_path, readonly=True).counts()["indexed"]
            except Exception:  # noqa: BLE001 - the catalog may be mid-creation
                indexed = 0
            if indexed >= 16:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 16 <= indexed < 240, "the kill must land mid-run"

    partial = _snapshot(root, killed)
    done_before = {rel for rel, (status, _) in partial.items() if status == "indexed"}
    assert 0 < len(done_before) < 240

    resume = _run_cli([*args[:-1], "--json"], config, killed)
    out, err = resume.communicate(timeout=300)
    assert resume.returncode == 0, err
    assert json.loads(out)["embedded"] == 240 - len(done_before)  # finished photos were not redone
    resumed = _snapshot(root, killed)
    assert resumed.keys() == expected.keys()
    for rel, (status, vec) in expected.items():
        assert resumed[rel][0] == status
        np.testing.assert_allclose(resumed[rel][1], vec, atol=2e-3)
    for rel in done_before:
        np.testing.assert_array_equal(resumed[rel][1], partial[rel][1])
