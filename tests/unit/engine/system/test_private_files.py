"""engine/system/private_files.py: owner-only folders and files whatever the umask, atomic
replacement, and the tightening of an install made before."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from privacy import loose_paths, loosen, posix_only, umask

from photosearch_desktop.engine.system.paths import app_dirs
from photosearch_desktop.engine.system.private_files import (
    create_private_file,
    keep_private,
    open_private,
    private_dir,
    tighten,
    write_atomic,
)

pytestmark = posix_only


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000])
def test_folders_and_files_are_created_owner_only_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        made = private_dir(tmp_path / "a" / "b" / "c")
        assert create_private_file(made / "catalog.sqlite")
        assert not create_private_file(made / "catalog.sqlite")  # there already: left alone
        with open_private(made / "writer.lock", "a+") as fh:
            fh.write("123")
        with open_private(made / "log.txt", "a", encoding="utf-8") as fh:
            fh.write("one line\n")
        write_atomic(made / "vectors.json", lambda tmp: tmp.write_text("{}"))
        control = made / "control.txt"
        control.write_text("written the ordinary way")
    assert [mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
    assert {mode(made / n) for n in ("catalog.sqlite", "writer.lock", "log.txt", "vectors.json")} == {0o600}
    assert (made / "vectors.json").read_text() == "{}" and not (made / "vectors.json.tmp").exists()
    assert mode(control) == 0o666 & ~mask  # the umask does apply to what is not written through here


def test_an_existing_folder_is_left_as_it_is(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    chosen.mkdir(mode=0o755)
    os.chmod(chosen, 0o755)
    with umask(0o022):
        private_dir(chosen / "libraries")
    assert mode(chosen) == 0o755 and mode(chosen / "libraries") == 0o700


def test_write_atomic_replaces_keeps_nothing_loose_and_leaves_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "vectors.faiss"
    with umask(0o022):
        write_atomic(target, lambda tmp: tmp.write_bytes(b"old"))
        # A temporary file left 0644 by a crash of an earlier version is reused owner-only.
        (tmp_path / "vectors.faiss.tmp").write_bytes(b"stale")
        os.chmod(tmp_path / "vectors.faiss.tmp", 0o644)
        write_atomic(target, lambda tmp: tmp.write_bytes(b"new"))
        assert target.read_bytes() == b"new" and mode(target) == 0o600

        def replaces_it(tmp: Path) -> None:  # a library that writes a file of its own and renames it
            other = tmp.with_name("elsewhere")
            other.write_bytes(b"theirs")
            os.replace(other, tmp)

        write_atomic(target, replaces_it)
        assert target.read_bytes() == b"theirs" and mode(target) == 0o600

        def fails(tmp: Path) -> None:
            tmp.write_bytes(b"half")
            raise OSError("disk full")

        with pytest.raises(OSError, match="disk full"):
            write_atomic(target, fails)
    assert target.read_bytes() == b"theirs" and not (tmp_path / "vectors.faiss.tmp").exists()


def test_tighten_takes_group_and_other_bits_off_and_never_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"someone else's")
    os.chmod(outside, 0o644)
    top = tmp_path / "cache"
    (top / "thumbnails" / "ab").mkdir(parents=True)
    (top / "thumbnails" / "ab" / "x.jpg").write_bytes(b"jpeg")
    (top / "tool.sh").write_bytes(b"#!/bin/sh\n")
    (top / "link.jpg").symlink_to(outside)
    loosen(top)
    os.chmod(top / "tool.sh", 0o755)
    done = tighten(top)
    assert (done.folders, done.files) == (3, 2)
    assert loose_paths(top) == []
    assert mode(top / "tool.sh") == 0o700  # bits are taken off, not set: it stays executable
    assert mode(outside) == 0o644  # the link's target is not the app's
    assert not tighten(top)  # nothing left to do


def test_keep_private_tightens_an_earlier_install_once_with_one_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for var, name in (("XDG_DATA_HOME", "share"), ("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config")):
        monkeypatch.setenv(var, str(tmp_path / name))
    monkeypatch.delenv("PHOTOSEARCH_DATA_DIR", raising=False)
    dirs = app_dirs()
    assert dirs.data == tmp_path / "share" / "PhotoSearch" and not dirs.chosen
    for folder in (dirs.library_dir(tmp_path / "Photos"), dirs.thumbnails / "ab", dirs.config, dirs.logs):
        folder.mkdir(parents=True)
        (folder / "file").write_text("made by the previous version")
    loosen(tmp_path)
    with caplog.at_level(logging.INFO, logger="photosearch_desktop"):
        done = keep_private(dirs)
    assert loose_paths(dirs.data) == loose_paths(dirs.cache) == loose_paths(dirs.config) == []
    assert (done.folders, done.files) == (8, 4)
    lines = [r.getMessage() for r in caplog.records if "readable by their owner alone" in r.getMessage()]
    assert len(lines) == 1 and "8 folders and 4 files" in lines[0] and str(dirs.cache) in lines[0]
    assert mode(tmp_path / "share") == 0o755  # XDG's folder is not the app's

    # Next start: the app's folders are owner-only, so they are not walked again (a file
    # loosened by hand inside one stays unreachable for others all the same).
    os.chmod(dirs.config / "file", 0o644)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="photosearch_desktop"):
        assert not keep_private(dirs)
    assert not caplog.records


def test_keep_private_leaves_a_chosen_data_folder_and_what_is_not_the_apps(tmp_path: Path) -> None:
    chosen = tmp_path / "my data"
    dirs = app_dirs(chosen)
    assert dirs.chosen and dirs.own_folders() == (chosen / "libraries", chosen / "logs", chosen / "cache",
                                                   chosen / "config")
    for folder in dirs.own_folders():
        folder.mkdir(parents=True)
        (folder / "file").write_text("the app's")
    (chosen / "notes.txt").write_text("the person's own file")
    loosen(chosen)
    keep_private(dirs)
    assert mode(chosen) == 0o755 and mode(chosen / "notes.txt") == 0o644
    assert [loose_paths(folder) for folder in dirs.own_folders()] == [[]] * 4
