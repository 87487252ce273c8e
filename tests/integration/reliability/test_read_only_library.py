"""Reliability (GitHub issue #6), end to end through Library and the command line, part 2: the
library is only ever read (a guard refuses every write in this process; a read-only bind
mount does it for real where possible)."""

from __future__ import annotations

import builtins
import errno
import importlib.util
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from childproc import driver
from e2e import NON_UTF8_OK, can_unshare_mount, check_results, cli, cli_env, model_args, open_lib
from imagegen import random_bytes, write_jpeg
from libgen import LAYOUT, make_library, near_copy, picture, write_photo
from whitebox import catalog_of

pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def full_digest(root: Path) -> dict[str, tuple]:
    """Type, mode, size, mtime and content hash of everything under root, folders and links
    included (not atime: reading may update it)."""
    import hashlib

    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode, st.st_mtime_ns)
            else:
                out[rel] = ("file", st.st_mode, st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    st = root.stat()
    out["."] = ("dir", st.st_mode, st.st_mtime_ns)
    return out


class WriteGuard:
    """Refuses, as a read-only mount would (EROFS), and records every attempt to open for
    writing, create, delete, rename or touch anything under ``root``."""

    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = os.path.realpath(root)
        self.attempts: list[str] = []
        self._install(monkeypatch)

    def _under(self, path: object) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False  # a file descriptor
        p = os.path.realpath(os.path.abspath(os.fsdecode(os.fspath(path))))
        return p == self.root or p.startswith(self.root + os.sep)

    def _deny(self, what: str, path: object) -> None:
        self.attempts.append(f"{what} {os.fsdecode(os.fspath(path))}")  # type: ignore[arg-type]
        raise OSError(errno.EROFS, "Read-only file system (test guard)", os.fsdecode(os.fspath(path)))  # type: ignore[arg-type]

    def _install(self, mp: pytest.MonkeyPatch) -> None:
        real_open, real_os_open, real_connect = builtins.open, os.open, sqlite3.connect

        def guarded_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
            if any(c in mode for c in "wax+") and self._under(file):
                self._deny(f"open({mode!r})", file)
            return real_open(file, mode, *args, **kwargs)

        def guarded_os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
            if flags & self.WRITE_FLAGS and self._under(path):
                self._deny("os.open(write)", path)
            return real_os_open(path, flags, *args, **kwargs)

        def guarded_connect(database, *args, **kwargs):  # type: ignore[no-untyped-def]
            target = str(database).removeprefix("file:").split("?")[0]
            if self._under(target):
                self._deny("sqlite3.connect", target)
            return real_connect(database, *args, **kwargs)

        mp.setattr(builtins, "open", guarded_open)
        mp.setattr(io, "open", guarded_open)
        mp.setattr(os, "open", guarded_os_open)
        mp.setattr(sqlite3, "connect", guarded_connect)
        for name in ("remove", "unlink", "rmdir", "mkdir", "utime", "chmod", "truncate", "chown", "symlink"):
            real = getattr(os, name, None)
            if real is None:
                continue

            def guarded(path, *args, _real=real, _name=name, **kwargs):  # type: ignore[no-untyped-def]
                if self._under(path):
                    self._deny(f"os.{_name}", path)
                return _real(path, *args, **kwargs)

            mp.setattr(os, name, guarded)
        for name in ("rename", "replace", "link"):
            real2 = getattr(os, name)

            def guarded2(src, dst, *args, _real=real2, _name=name, **kwargs):  # type: ignore[no-untyped-def]
                if self._under(src) or self._under(dst):
                    self._deny(f"os.{_name}", dst)
                return _real(src, dst, *args, **kwargs)

            mp.setattr(os, name, guarded2)


def _thumbnail_maker():  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("PySide6") is None:  # the engine's tests run without the window's toolkit
        return None
    from photosearch_desktop.ui.thumbnails import make_thumbnail

    return make_thumbnail


def _readonly_library(root: Path) -> Path:
    make_library(root)
    random_bytes(root / "junk.jpg")
    write_photo(root / NON_UTF8_OK, seed=5)
    picture(6).save(root / "2020" / "drawing.png")
    os.symlink("2019", root / "link-to-2019")
    return root


def test_the_library_is_only_ever_read(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    root = _readonly_library(tmp_path / "lib")
    query = tmp_path / "query.jpg"
    write_jpeg(query, near_copy(picture(103)))
    before = full_digest(root)
    guard = WriteGuard(root, monkeypatch)
    for attempt in (lambda: (root / "probe.txt").write_text("x"), lambda: picture(1).save(root / "x.png"),
                    lambda: os.utime(root / "junk.jpg"), lambda: os.replace(query, root / "q.jpg")):
        with pytest.raises(OSError):
            attempt()  # the guard works
    assert len(guard.attempts) == 4
    guard.attempts.clear()

    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    photo = catalog_of(lib).photo_by_path("2019/Trips/trip_03.jpg")
    check_results(lib, lib.search_image(root / "2019/Trips/trip_03.jpg", k=5))  # a query inside the library
    check_results(lib, lib.search_image(query, k=5))
    check_results(lib, lib.search_photo(photo.id, k=5))
    check_results(lib, lib.search_text("a red square", k=5))
    check_results(lib, lib.search_pil(picture(104), k=5))
    assert lib.status().indexed == len(LAYOUT) + 2 and lib.folders() and lib.skipped()
    lib.index()  # an update over an unchanged library
    lib.close()

    make_thumbnail = _thumbnail_maker()
    if make_thumbnail is not None:
        for rel in ("2019/Trips/trip_03.jpg", "2020/drawing.png", NON_UTF8_OK):
            image = make_thumbnail(root / rel, 160, data_dir / "cache" / "thumbnails")
            assert not image.isNull()

    args = model_args(tiny_clip)
    for command in (
        ["index", root, *args, "-q"],
        ["search", root, *args, "--image", root / "2020/home_00.jpg", "--json"],
        ["search", root, *args, "--photo", "2020/home_00.jpg", "--json"],
        ["search", root, *args, "--text", "a dog", "--json"],
        ["status", root, "--json"],
    ):
        code, _, err = cli(capsys, *command)
        assert code == 0, (command, err)

    assert guard.attempts == []
    monkeypatch.undo()
    assert full_digest(root) == before


@pytest.mark.slow
@pytest.mark.skipif(not can_unshare_mount(), reason="needs root and unshare -m (a private read-only bind mount)")
def test_library_on_a_read_only_mount(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    root = _readonly_library(tmp_path / "lib")
    before = full_digest(root)
    data = tmp_path / "data"
    # A private mount namespace: the library is bind-mounted read-only onto itself, for this
    # process tree only. Writing anything under it fails with EROFS, even as root.
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(root),
         sys.executable, driver("read_only_mount"), str(tiny_clip[2]), str(root), str(tiny_clip[1]), tiny_clip[0],
         str(root / "2019/Trips/trip_03.jpg")],
        env=cli_env(data), capture_output=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    line = next(x for x in done.stdout.decode(errors="replace").splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["probe"] == "EROFS"  # the mount really is read-only
    assert result["codes"] == [0, 0, 0, 0, 0]
    assert result["thumbs"] in (None, [True, True])
    assert full_digest(root) == before
