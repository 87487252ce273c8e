"""Finding a library's photos (engine/scan/scanner.py)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from imagegen import solid, write_jpeg

from photosearch_desktop.engine.scan.scanner import scan_library
from photosearch_desktop.engine.store.catalog import path_from_db, path_to_db


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


class _WindowsLikeEntry:
    """An ``os.DirEntry`` whose ``stat()`` reports inode and device 0, as it does on Windows."""

    def __init__(self, entry: os.DirEntry[str]) -> None:
        self._entry = entry
        self.name, self.path = entry.name, entry.path

    def is_dir(self) -> bool:
        return self._entry.is_dir()

    def is_file(self) -> bool:
        return self._entry.is_file()

    def is_symlink(self) -> bool:
        return self._entry.is_symlink()

    def stat(self) -> os.stat_result:
        fields = list(self._entry.stat())
        fields[stat.ST_INO] = fields[stat.ST_DEV] = 0
        return os.stat_result(fields)


_real_scandir = os.scandir


class _WindowsLikeScandir:
    def __init__(self, path: str) -> None:
        self._it = _real_scandir(path)

    def __enter__(self) -> _WindowsLikeScandir:
        return self

    def __exit__(self, *exc: object) -> None:
        self._it.close()

    def __iter__(self) -> Iterator[_WindowsLikeEntry]:
        return (_WindowsLikeEntry(e) for e in self._it)


def test_scanner_finds_every_folder_when_stat_gives_no_inode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows: DirEntry.stat() has st_ino == st_dev == 0. A guard on (dev, inode) alone took
    every folder after the first for one already seen and indexed almost nothing."""
    expected = []
    for year in ("2019", "2020"):
        for month in ("01", "02", "03"):
            folder = tmp_path / year / month
            folder.mkdir(parents=True)
            write_jpeg(folder / "p.jpg", solid((1, 2, 3)))
            expected.append(f"{year}/{month}/p.jpg")
    os.symlink(tmp_path, tmp_path / "2019" / "01" / "back-to-root")  # a real loop
    os.symlink(tmp_path / "2020", tmp_path / "again-2020")  # a second way into a visited folder
    monkeypatch.setattr("photosearch_desktop.engine.scan.scanner.os.scandir", _WindowsLikeScandir)

    result = scan_library(tmp_path)
    assert len(result.files) == len(expected)  # each photo once: neither link walked a folder again
    found = {rel.replace("again-2020/", "2020/") for rel in result.files}
    assert found == set(expected)
    assert result.problems == []


class _AttributedEntry(_WindowsLikeEntry):
    """A Windows entry whose stat carries st_file_attributes (hidden for the names given)."""

    hidden_names: frozenset[str] = frozenset()

    def stat(self) -> os.stat_result:
        st = super().stat()
        hidden = stat.FILE_ATTRIBUTE_HIDDEN if self.name in self.hidden_names else 0
        fields = {name: getattr(st, name) for name in ("st_mode", "st_ino", "st_dev", "st_size", "st_mtime_ns")}
        return SimpleNamespace(**fields, st_file_attributes=hidden | stat.FILE_ATTRIBUTE_ARCHIVE)  # type: ignore[return-value]


def test_scanner_skips_what_windows_hides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A memory card as the library: its recycle bin holds deleted photos, hidden by attribute
    (no leading dot on Windows)."""
    (tmp_path / "DCIM" / "100CANON").mkdir(parents=True)
    (tmp_path / "$RECYCLE.BIN" / "S-1-5-21").mkdir(parents=True)
    write_jpeg(tmp_path / "DCIM" / "100CANON" / "IMG_0001.JPG", solid((1, 2, 3)))
    write_jpeg(tmp_path / "$RECYCLE.BIN" / "S-1-5-21" / "$RABC123.JPG", solid((4, 5, 6)))
    write_jpeg(tmp_path / "DCIM" / "100CANON" / "hidden.jpg", solid((7, 8, 9)))

    class Scandir(_WindowsLikeScandir):
        def __iter__(self) -> Iterator[_WindowsLikeEntry]:
            for e in self._it:
                entry = _AttributedEntry(e)
                entry.hidden_names = frozenset({"$RECYCLE.BIN", "hidden.jpg"})
                yield entry

    monkeypatch.setattr("photosearch_desktop.engine.scan.scanner.os.scandir", Scandir)
    assert list(scan_library(tmp_path).files) == ["DCIM/100CANON/IMG_0001.JPG"]
