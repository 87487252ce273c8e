"""Thumbnail cache keys: a library photo is keyed by the library's id and its place in it, so a
library that moved (and was relinked) keeps its thumbnails."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from libgen import write_photo  # noqa: E402

from photosearch_desktop.ui.thumbnails import LibraryPlace, disk_key, make_thumbnail  # noqa: E402


def test_a_moved_library_keeps_its_thumbnail_keys(tmp_path: Path) -> None:
    old = tmp_path / "old"
    photo = write_photo(old / "2019" / "a.jpg", seed=1)
    key = disk_key(photo, 160, LibraryPlace(old, "lib-1"))
    assert key != disk_key(photo, 160, LibraryPlace(old, "lib-2"))  # another library's photo
    assert key != disk_key(photo, 160) and key != disk_key(photo, 200, LibraryPlace(old, "lib-1"))
    outside = write_photo(tmp_path / "elsewhere.jpg", seed=2)
    assert disk_key(outside, 160, LibraryPlace(old, "lib-1")) == disk_key(outside, 160)  # by its absolute path

    cache = tmp_path / "thumbs"
    make_thumbnail(photo, 64, cache, LibraryPlace(old, "lib-1"))
    made = sorted(cache.rglob("*.jpg"))
    new = tmp_path / "new"
    shutil.move(old, new)  # mtime and size kept
    moved = new / "2019" / "a.jpg"
    assert disk_key(moved, 160, LibraryPlace(new, "lib-1")) == key
    assert not make_thumbnail(moved, 64, cache, LibraryPlace(new, "lib-1")).isNull()
    assert sorted(cache.rglob("*.jpg")) == made  # a cache hit: nothing made again
