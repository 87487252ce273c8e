"""Walks a library folder and finds its photos, without opening any of them.

A walk only stats files; contents are read (a few bytes to sniff, 128 KiB to fingerprint)
only for files that are new or changed, so re-scanning an unchanged library stays cheap.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..media.formats import NOT_PHOTOS, RAW_EXTENSIONS, sniff
from ..records import SkippedFile
from ..system.longpaths import long_path

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    "jpg jpeg jpe jfif png gif bmp dib webp tif tiff heic heif hif avif mpo ppm pgm pbm pnm".split()
) | RAW_EXTENSIONS  # the loader explains why RAW is skipped
# Never photos of the library: sidecars and common non-image files, skipped without a look.
IGNORED_EXTENSIONS = frozenset(
    "aae xmp json thm xml txt md pdf ini db lnk url "
    "mov mp4 m4v avi mkv mts m2ts 3gp wmv webm mp3 wav m4a aac "
    "zip rar 7z gz tar psd xcf svg ds_store".split()
)


@dataclass(frozen=True, slots=True)  # one per file: 100,000 of them in a big library
class FileStat:
    size: int
    mtime_ns: int


@dataclass
class ScanResult:
    files: dict[str, FileStat] = field(default_factory=dict)  # library-relative POSIX path -> stat
    problems: list[SkippedFile] = field(default_factory=list)  # unreadable folders, broken links
    # Folders (and files) whose listing or stat failed: what the catalog knows under them is
    # unknown now, not gone ("" when the library folder itself could not be listed to the end).
    unread: list[str] = field(default_factory=list)
    root_problem: str | None = None  # why the library folder itself cannot be read at all


def _is_candidate(name: str, path: str, known: bool) -> bool:
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext in IMAGE_EXTENSIONS or known:
        return True
    if ext in IGNORED_EXTENSIONS:
        return False
    # Unknown or missing extension: decide by content (e.g. a JPEG saved without ".jpg").
    try:
        with open(long_path(path), "rb") as fh:
            kind = sniff(fh.read(32))
        return kind is not None and kind not in NOT_PHOTOS
    except OSError:
        return False


def _hidden(st: object) -> bool:
    """Hidden the platform's own way, besides a leading dot: Windows's hidden attribute
    (``$RECYCLE.BIN`` and ``System Volume Information`` at the root of a memory card or USB
    drive carry it: the recycle bin's photos are no part of the library), macOS's hidden flag.
    Not Windows's "system" attribute alone: Explorer sets it on folders with a custom icon.
    Read from a stat the walk takes anyway; Linux has neither field."""
    attributes = getattr(st, "st_file_attributes", 0)
    flags = getattr(st, "st_flags", 0)
    return bool(attributes & stat.FILE_ATTRIBUTE_HIDDEN or flags & stat.UF_HIDDEN)


def _folder_key(path: str, st: os.stat_result) -> tuple[int, int] | str:
    """What makes a folder the same folder however it was reached.

    ``(st_dev, st_ino)`` where the file system gives them; ``os.DirEntry.stat()`` on Windows
    leaves both 0 (CPython documents it), and every folder would then look like the first one
    visited, so there the resolved real path (links and junctions followed, case folded where
    the platform folds it) stands in.
    """
    if st.st_ino == 0 and st.st_dev == 0:
        return os.path.normcase(os.path.realpath(path))
    return (st.st_dev, st.st_ino)


def scan_library(root: Path, known: frozenset[str] | set[str] = frozenset()) -> ScanResult:
    """Find every photo under ``root``.

    Hidden files and folders (name starting with ".", or hidden by the platform's own
    attribute, see :func:`_hidden`) are not part of the library. Symbolic
    links are followed, but each real folder is visited once, so link loops are harmless.
    ``known`` holds paths already in the catalog: they are not sniffed again.

    A folder that cannot be listed, or whose listing breaks off (a network share that drops),
    is reported in ``problems`` and named in ``unread``: only a folder read to the end says
    that a file is gone. A library folder that is missing or cannot be opened at all (an
    unplugged drive) sets ``root_problem`` instead of raising.
    """
    result = ScanResult()
    root = Path(root)
    try:
        st = root.stat()
    except OSError as exc:
        result.root_problem = f"The photo folder {root} cannot be opened: {exc.strerror or exc}"
        return result
    if not stat.S_ISDIR(st.st_mode):
        result.root_problem = f"{root} is not a folder"
        return result
    # Both forms for the root: a link back to it is known whichever form its entry gives.
    visited: set[tuple[int, int] | str] = {(st.st_dev, st.st_ino), os.path.normcase(os.path.realpath(root))}
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        dir_path, rel_dir = stack.pop()
        try:
            # A long folder path gets Windows's long-path prefix; its entries' paths inherit it.
            it = os.scandir(long_path(dir_path))
        except OSError as exc:
            if not rel_dir:
                result.root_problem = f"The photo folder {root} cannot be read: {exc.strerror or exc}"
                return result
            result.problems.append(SkippedFile(rel_dir, f"Folder cannot be read: {exc.strerror or exc}"))
            result.unread.append(rel_dir)
            continue
        with it:
            try:
                for entry in it:
                    _visit(entry, rel_dir, known, visited, stack, result)
            except OSError as exc:  # the listing itself broke off
                result.problems.append(
                    SkippedFile(rel_dir or ".", f"Folder could not be read to the end: {exc.strerror or exc}")
                )
                result.unread.append(rel_dir)
    return result


def _visit(
    entry: os.DirEntry[str],
    rel_dir: str,
    known: frozenset[str] | set[str],
    visited: set[tuple[int, int] | str],
    stack: list[tuple[str, str]],
    result: ScanResult,
) -> None:
    name = entry.name
    if name.startswith("."):
        return
    rel = f"{rel_dir}/{name}" if rel_dir else name
    try:
        if entry.is_dir():  # follows links
            est = entry.stat()
            key = _folder_key(entry.path, est)
            if key not in visited and not _hidden(est):
                visited.add(key)
                stack.append((entry.path, rel))
            return
        if not entry.is_file():
            if entry.is_symlink():
                result.problems.append(SkippedFile(rel, "Broken link: its target does not exist"))
            return
        if not _is_candidate(name, entry.path, rel in known):
            return
        est = entry.stat()
        if _hidden(est):
            return
    except OSError as exc:
        result.problems.append(SkippedFile(rel, f"Cannot be read: {exc.strerror or exc}"))
        result.unread.append(rel)  # a file or a folder: either way, not known to be gone
        return
    result.files[rel] = FileStat(est.st_size, est.st_mtime_ns)
