"""engine/duplicates/removal.py: which photo of a duplicate group may go to the trash now."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photosearch_desktop.engine.duplicates.removal import trash_problem
from photosearch_desktop.engine.records import PhotoRecord


def record(path: Path, rel: str) -> PhotoRecord:
    """The catalog's record of ``path`` as the scanner saw it (a link's size and date are its target's)."""
    st = path.stat()
    return PhotoRecord(id=1, rel_path=rel, folder=rel.rpartition("/")[0], size=st.st_size, mtime_ns=st.st_mtime_ns,
                       width=None, height=None, taken_at=None, taken_source=None, camera_make=None,
                       camera_model=None, gps_lat=None, gps_lon=None, status="indexed", error=None)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "Photos"
    (root / "2020").mkdir(parents=True)
    (root / "2020" / "beach.jpg").write_bytes(b"beach" * 100)
    outside = tmp_path / "elsewhere"
    (outside / "trip").mkdir(parents=True)
    (outside / "beach copy.jpg").write_bytes(b"beach" * 100)
    (outside / "trip" / "sea.jpg").write_bytes(b"sea" * 100)
    (root / "backup").mkdir()
    (root / "backup" / "beach.jpg").symlink_to(outside / "beach copy.jpg")  # a link to a file outside
    (root / "linked trip").symlink_to(outside / "trip", target_is_directory=True)  # a linked folder
    return root


def test_an_unchanged_photo_of_the_library_may_go(library: Path) -> None:
    photo = library / "2020" / "beach.jpg"
    assert trash_problem(library, photo, record(photo, "2020/beach.jpg"), links_alone=False) is None


def test_a_link_goes_alone_where_the_trash_moves_links_and_is_refused_elsewhere(library: Path) -> None:
    link = library / "backup" / "beach.jpg"
    photo = record(link, "backup/beach.jpg")
    assert trash_problem(library, link, photo, links_alone=True) is None
    assert "link" in str(trash_problem(library, link, photo, links_alone=False))
    os.unlink(link.resolve())  # its target is gone: nothing the person saw is left
    assert trash_problem(library, link, photo, links_alone=True) == "it is no longer there"


def test_a_file_reached_through_a_linked_folder_is_never_trashed(library: Path) -> None:
    sea = library / "linked trip" / "sea.jpg"
    why = trash_problem(library, sea, record(sea, "linked trip/sea.jpg"), links_alone=True)
    assert why is not None and "outside the library" in why


def test_a_photo_changed_since_the_groups_were_found_is_kept(library: Path) -> None:
    photo = library / "2020" / "beach.jpg"
    seen = record(photo, "2020/beach.jpg")
    st = photo.stat()
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # edited: same size, new date
    assert "changed since the duplicates were found" in str(trash_problem(library, photo, seen, links_alone=True))
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns))
    photo.write_bytes(b"another picture, same name")  # replaced
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert "changed since the duplicates were found" in str(trash_problem(library, photo, seen, links_alone=True))
    photo.unlink()
    assert trash_problem(library, photo, seen, links_alone=True) == "it is no longer there"
