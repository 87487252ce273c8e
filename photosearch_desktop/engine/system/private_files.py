"""What the app keeps about the photos is readable by its owner alone.

The catalog names every photo, its folder, its date, camera and GPS position; the thumbnail
cache holds a small copy of every photo; the logs and settings name folders. Created with the
usual umask (022) they would be files 0644 in folders 0755, which every other account of a
shared computer can read. So, on POSIX, every folder the app creates is made 0700 and every file
0600 *as it is created* (the mode given to ``mkdir``/``open``; the umask can only take bits
away), never opened up and closed again afterwards. A folder without permissions for others
already keeps them out of all it holds; the files' own modes keep them out too should a folder
be opened up by hand.

A data folder the person chose (``--data-dir``) is theirs and left as it is; the app's own
sub-folders inside it are owner-only (:meth:`~.paths.AppDirs.own_folders`).

Windows: the per-user AppData folders are private to their user through their access lists, and
what is created inside inherits them. Nothing here widens anything there (``os.mkdir`` ignores
its mode, and :func:`tighten` does nothing).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .paths import AppDirs

log = logging.getLogger(__name__)

OWNER_ONLY_DIR = 0o700
OWNER_ONLY_FILE = 0o600
_OTHERS = 0o077  # group and other permission bits
_POSIX = os.name == "posix"
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation under Python's own


def private_dir(path: Path) -> Path:
    """``path`` as a folder: it and every missing parent are created owner-only. A folder that
    is there already is left as it is (it may be one the person chose)."""
    path = Path(path)
    missing: list[Path] = []
    folder = path
    while not folder.is_dir() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, OWNER_ONLY_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            # Another thread or process made it at the same moment.
    return path


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and owner-only unless it is there (True if it was created).

    For files another library then opens by name: SQLite gives a database's WAL, SHM and
    journal files the database file's mode, and QSettings (through QSaveFile) keeps the mode
    of the file it replaces.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, OWNER_ONLY_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_private(path: Path, mode: str = "a", encoding: str | None = None, errors: str | None = None) -> IO[Any]:
    """``open(path, mode)`` for the modes "a", "a+", "w", "w+" (with or without "b"); a file
    it creates is owner-only."""
    kind = mode.replace("b", "")
    flags = {"a": os.O_WRONLY | os.O_APPEND, "a+": os.O_RDWR | os.O_APPEND, "w": os.O_WRONLY | os.O_TRUNC,
             "w+": os.O_RDWR | os.O_TRUNC}[kind]
    fd = os.open(path, flags | os.O_CREAT | _BINARY, OWNER_ONLY_FILE)
    try:
        return open(fd, mode, encoding=encoding, errors=errors)
    except BaseException:
        os.close(fd)
        raise


def write_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """Replace ``target`` with what ``write(temp)`` writes into an owner-only temporary file next
    to it, synced to disk and then renamed over it: a crash leaves the old file or the new one,
    never half of one. The temporary name is fixed (``NAME.tmp``), so one left by a crash is
    reused rather than left behind. ``write`` may open the path itself (faiss, ONNX exporters):
    opening an existing file for writing keeps its mode."""
    tmp = target.with_name(target.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, OWNER_ONLY_FILE)
        try:
            _take_others_off(fd)  # one left by a crash of an earlier version may be 0644
        finally:
            os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as fh:
            _take_others_off(fh.fileno())  # a writer that replaced the file with one of its own
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _take_others_off(fd: int) -> None:
    if _POSIX:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & _OTHERS:
            os.fchmod(fd, mode & ~_OTHERS)


@dataclass
class Tightened:
    """How many folders and files had their group and other permissions taken off."""

    folders: int = 0
    files: int = 0

    def __bool__(self) -> bool:
        return bool(self.folders or self.files)

    def add(self, other: Tightened) -> None:
        self.folders += other.folders
        self.files += other.files


def tighten(top: Path) -> Tightened:
    """Take group and other permissions off ``top`` and everything under it that this user
    owns. Links are neither followed nor changed (their target may be anyone's). ``top`` is done
    last, so that a walk cut short is done again by the next one (see :func:`keep_private`)."""
    done = Tightened()
    if not _POSIX:
        return done
    for folder, dirs, files in os.walk(top, topdown=False):
        for name in (*files, *dirs):
            _tighten_entry(os.path.join(folder, name), done)
    _tighten_entry(os.fspath(top), done)
    return done


def _tighten_entry(path: str, done: Tightened) -> None:
    try:
        st = os.lstat(path)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode) or not mode & _OTHERS or st.st_uid != os.getuid():
            return
        os.chmod(path, mode & ~_OTHERS)
    except OSError as exc:  # removed meanwhile, or not ours to change
        log.debug("could not tighten %s: %s", path, exc)
        return
    if stat.S_ISDIR(st.st_mode):
        done.folders += 1
    else:
        done.files += 1


def keep_private(dirs: AppDirs) -> Tightened:
    """At start: an install made before the app kept its files private (files 0644 in folders
    0755) is tightened, said in one log line. (What the app creates from now on is owner-only
    as it is created.)

    A folder that is already owner-only is not walked: no other account can enter it, whatever
    the modes of what it holds, so a start costs a few ``stat`` calls, not one per thumbnail.
    """
    done = Tightened()
    tightened: list[str] = []
    for folder in dirs.own_folders():
        try:
            loose = _POSIX and bool(os.stat(folder).st_mode & _OTHERS)
        except OSError:  # not made yet, or not reachable: nothing of the app's is there to tighten
            continue
        if loose:
            found = tighten(folder)
            if found:
                done.add(found)
                tightened.append(str(folder))
    if done:
        log.info(
            "made %d folders and %d files readable by their owner alone (they were readable by other "
            "accounts): %s", done.folders, done.files, ", ".join(tightened),
        )
    return done
