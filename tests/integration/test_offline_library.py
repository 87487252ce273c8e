"""Missing is not deleted: photos whose files vanish in bulk (an unplugged drive, a folder on a
disk that is not mounted) are kept offline with their vectors, and come back without being
embedded again; a folder that cannot be read keeps its photos as they were.

The engine end to end through :class:`Library`, with the tiny CLIP model. Tests run as root in
CI, where permission bits do not stop reads: unreadable folders are simulated by replacing
``os.scandir`` in the scanner, in-process.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from libgen import LAYOUT, make_library, near_copy, picture
from whitebox import catalog_of, index_of

from photosearch_desktop.engine.errors import Action, LibraryError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.records import OfflineFolder, SearchFilters

PHOTOS = len(LAYOUT)  # 24: 2019/ holds 14, 2020/ 6, scans/ 4
IN_2019 = sum(rel.startswith("2019/") for rel, _, _ in LAYOUT)


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
def library(tmp_path: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path) -> Iterator[Library]:
    lib = open_lib(make_library(tmp_path / "Pictures"), tiny_clip, data_dir)
    lib.index()
    yield lib
    lib.close()


@pytest.fixture
def query(tmp_path: Path) -> Path:
    path = tmp_path / "query.png"  # outside the library: a near copy of 2019/Home/home_03.jpg
    near_copy(picture(203)).save(path)
    return path


def ranking(lib: Library, query: Path) -> list[tuple[str, float]]:
    return [(r.photo.rel_path, round(r.score, 5)) for r in lib.search_image(query, k=100)]


def test_an_empty_library_folder_keeps_every_photo_offline_until_it_is_back(
    library: Library, query: Path, tmp_path: Path
) -> None:
    root = library.root
    before = ranking(library, query)
    assert len(before) == PHOTOS
    root.rename(tmp_path / "unplugged")
    root.mkdir()  # what a mount point looks like while its drive is not there

    report = library.index()
    assert (report.deleted, report.offline, report.embedded) == (0, PHOTOS, 0)
    assert report.offline_folders == [OfflineFolder("2019", 14), OfflineFolder("2020", 6), OfflineFolder("scans", 4)]
    st = library.status()
    assert (st.offline, st.indexed, st.pending, st.total, st.reachable) == (PHOTOS, 0, 0, PHOTOS, True)
    assert sum(f.photos for f in st.offline_folders) == PHOTOS
    catalog = catalog_of(library)
    assert catalog.vector_count() == PHOTOS and catalog.consistency_problems() == []  # nothing lost
    assert len(index_of(library)) == 0 and library.folders() == []
    with pytest.raises(LibraryError, match="offline") as info:
        library.search_image(query)
    assert Action.RECONNECT in info.value.hint

    report = library.index()  # a second update while the drive is away changes nothing
    assert (report.deleted, report.offline, report.returned) == (0, 0, 0)

    root.rmdir()
    (tmp_path / "unplugged").rename(root)
    counter = Counter(library)
    report = library.index()
    assert (report.returned, report.added, report.modified, report.deleted, report.embedded) == (PHOTOS, 0, 0, 0, 0)
    assert counter.photos == 0
    assert library.status().offline == 0 and library.status().indexed == PHOTOS
    assert ranking(library, query) == before

    library.close()  # a fresh open reads the saved vector cache: the same answers
    with Library(root, data_dir=library.data_dir.parents[1], model=library.model_name, weights=library.weights) as again:
        assert ranking(again, query) == before


def test_a_missing_library_folder_opens_and_says_where_the_photos_are(
    library: Library, query: Path, tmp_path: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path
) -> None:
    root = library.root
    before = ranking(library, query)
    library.close()
    root.rename(tmp_path / "elsewhere")  # the mount point itself is gone

    lib = open_lib(root, tiny_clip, data_dir)  # a library already indexed opens without its folder
    try:
        assert not lib.reachable
        report = lib.index()
        assert not report.root_reachable and (report.offline, report.deleted) == (PHOTOS, 0)
        st = lib.status()
        assert (st.offline, st.indexed, st.reachable) == (PHOTOS, 0, False)
        with pytest.raises(LibraryError, match=f"the photo folder {root} cannot be reached"):
            lib.search_image(query)
        (tmp_path / "elsewhere").rename(root)
        counter = Counter(lib)
        report = lib.index()
        assert (report.returned, report.embedded, counter.photos) == (PHOTOS, 0, 0)
        assert ranking(lib, query) == before
    finally:
        lib.close()
    with pytest.raises(LibraryError, match="does not exist"):  # never indexed: nothing to open
        open_lib(tmp_path / "never-indexed", tiny_clip, data_dir)


def test_a_missing_top_level_folder_goes_offline_and_comes_back(
    library: Library, query: Path, tmp_path: Path
) -> None:
    root = library.root
    before = ranking(library, query)
    (root / "2019").rename(tmp_path / "2019-on-a-drive")

    report = library.index()
    assert (report.offline, report.deleted, report.embedded) == (IN_2019, 0, 0)
    assert report.offline_folders == [OfflineFolder("2019", IN_2019)]
    assert library.status().offline == IN_2019 and library.status().indexed == PHOTOS - IN_2019
    after = ranking(library, query)
    assert [r for r in before if not r[0].startswith("2019/")] == after  # the rest ranks as before
    assert not any(f.startswith("2019") for f in library.folders())
    assert library.search_image(query, filters=SearchFilters(folder="2019")) == []
    assert all(not p.rel_path.startswith("2019/") for g in library.find_duplicates(threshold=0.01) for p in g.photos)

    (tmp_path / "2019-on-a-drive").rename(root / "2019")
    counter = Counter(library)
    report = library.index()
    assert (report.returned, report.embedded, counter.photos, library.status().offline) == (IN_2019, 0, 0, 0)
    assert ranking(library, query) == before


def test_ordinary_deletions_are_deleted_as_before(library: Library, tmp_path: Path) -> None:
    root = library.root
    (root / "2020/home_02.jpg").unlink()
    (root / "2019/Trips/trip_05.jpg").unlink()
    for path in (root / "scans").iterdir():  # a small top-level folder deleted whole
        path.unlink()
    report = library.index()
    assert (report.deleted, report.offline) == (6, 0)
    assert library.status().offline == 0 and catalog_of(library).vector_count() == PHOTOS - 6


def test_remove_missing_drops_offline_photos(library: Library, tmp_path: Path) -> None:
    root = library.root
    (root / "2019").rename(tmp_path / "gone")
    assert library.index().offline == IN_2019
    report = library.index(remove_missing=True)
    assert (report.deleted, report.offline) == (IN_2019, 0)
    st = library.status()
    assert (st.offline, st.indexed) == (0, PHOTOS - IN_2019)
    assert catalog_of(library).vector_count() == PHOTOS - IN_2019 and catalog_of(library).consistency_problems() == []


def test_photos_that_come_back_changed_are_embedded_again(library: Library, tmp_path: Path) -> None:
    """Another disk at the same mount point, with files of the same names, sizes and times but
    other contents, is caught by the fingerprints; one edited photo is embedded again."""
    root = library.root
    (root / "2019").rename(tmp_path / "drive")
    library.index()
    (tmp_path / "drive").rename(root / "2019")
    for rel, _, _ in LAYOUT:
        if rel.startswith("2019/Home/"):
            path = root / rel
            st = path.stat()
            path.write_bytes(os.urandom(st.st_size))  # same size, other bytes...
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ...and the same time
    counter = Counter(library)
    report = library.index()
    home = sum(rel.startswith("2019/Home/") for rel, _, _ in LAYOUT)
    assert (report.returned, report.modified) == (IN_2019 - home, home)
    assert counter.photos == 0 and report.skipped == home  # random bytes: not images any more


def test_offline_photos_found_at_another_path_come_back_as_moved(library: Library, tmp_path: Path) -> None:
    root = library.root
    (root / "2019").rename(tmp_path / "drive")
    library.index()
    (tmp_path / "drive").rename(root / "Archive 2019")  # mounted again under another name
    counter = Counter(library)
    report = library.index()
    assert (report.moved, report.returned, report.embedded, counter.photos) == (IN_2019, IN_2019, 0, 0)
    assert library.photo_by_path("Archive 2019/Trips/trip_00.jpg") is not None
    assert library.status().offline == 0 and len(index_of(library)) == PHOTOS


# -- folders that cannot be read ------------------------------------------------------------------


def _refuse(monkeypatch: pytest.MonkeyPatch, folder: Path, after: int | None = None) -> None:
    """Listing ``folder`` fails: at once (permission), or after ``after`` entries (a network
    share that drops mid-listing). Injected in-process: chmod does not stop root."""
    real = os.scandir

    class BreaksOff:
        def __init__(self, path: str) -> None:
            self._it = real(path)
            self._left = after

        def __enter__(self) -> BreaksOff:
            return self

        def __exit__(self, *exc: object) -> None:
            self._it.close()

        def __iter__(self) -> BreaksOff:
            return self

        def __next__(self) -> os.DirEntry[str]:
            if self._left == 0:
                raise OSError(errno.EIO, "Input/output error")
            self._left = None if self._left is None else self._left - 1
            return next(self._it)

    def scandir(path: str) -> object:
        if Path(path) == folder:
            if after is None:
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return BreaksOff(path)
        return real(path)

    monkeypatch.setattr("photosearch_desktop.engine.scan.scanner.os.scandir", scandir)


def test_an_unreadable_folder_keeps_its_photos_as_they_were(
    library: Library, query: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = library.root
    before = ranking(library, query)
    home = sum(rel.startswith("2019/Home/") for rel, _, _ in LAYOUT)
    _refuse(monkeypatch, root / "2019/Home")
    report = library.index()
    assert (report.deleted, report.offline, report.kept_unreadable, report.embedded) == (0, 0, home, 0)
    assert [(p.rel_path, p.reason) for p in report.scan_problems] == [
        ("2019/Home", "Folder cannot be read: Permission denied")
    ]
    assert ranking(library, query) == before  # kept as they were: still searchable
    assert any(s.rel_path == "2019/Home" for s in library.skipped())  # and reported

    monkeypatch.undo()
    counter = Counter(library)
    report = library.index()
    assert (report.deleted, report.embedded, counter.photos, report.scan_problems) == (0, 0, 0, [])
    assert not any(s.rel_path == "2019/Home" for s in library.skipped())


def test_a_listing_that_breaks_off_deletes_nothing(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network share drops while its folder is listed: the files listed so far are seen,
    the rest are not gone."""
    _refuse(monkeypatch, library.root / "2019/Trips", after=3)
    report = library.index()
    trips = sum(rel.startswith("2019/Trips/") for rel, _, _ in LAYOUT)
    assert (report.deleted, report.offline, report.kept_unreadable) == (0, 0, trips - 3)
    assert [p.rel_path for p in report.scan_problems] == ["2019/Trips"]
    assert "could not be read to the end" in report.scan_problems[0].reason
    assert library.status().indexed == PHOTOS
