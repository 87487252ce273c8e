"""A library that moved is recognised, and its index moves with it.

A library's data folder (catalog, vectors, saved searches) is found by the path of its photo
folder (system/paths.py), so a folder moved or renamed, or a drive that Windows gives another
letter, would otherwise start an empty index and embed every photo again. Before a folder gets
its first photo, the other libraries' catalogs are asked whether their photos are here: a
sample of their relative paths is looked up under the new folder, each with the size and the
content fingerprint it had (scan/fingerprint.py, 128 KiB read per photo). A catalog whose
sample is found, and whose old folder does not hold the same photos any more (that would be a
copy, not a move), is offered. Moving it renames its data folder: nothing is embedded again,
and thumbnails, keyed by the library's id and the photo's relative path, stay valid.
"""

from __future__ import annotations

import logging
import math
import os
import random
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

from ..errors import Action, LibraryError, hint
from ..records import MovedLibrary
from ..scan.fingerprint import fingerprint
from ..system.lock import WriterLock
from ..system.paths import CATALOG_FILE, LOCK_FILE, AppDirs
from .catalog import Catalog, path_from_db

log = logging.getLogger(__name__)

SAMPLE = 24  # photos looked up per catalog: 3 MB read at most
MATCH_SHARE = 0.8  # of the sample found unchanged; a few may have been edited or deleted since
# The files an empty library's data folder holds; anything else (saved searches) is kept aside.
_OWN_FILES = frozenset({CATALOG_FILE, f"{CATALOG_FILE}-wal", f"{CATALOG_FILE}-shm", LOCK_FILE,
                        "vectors.faiss", "vectors.json", "vectors.ivf"})


def find_moved(root: Path, dirs: AppDirs) -> MovedLibrary | None:
    """The indexed library whose photos are in ``root``, if ``root`` has no photo indexed yet."""
    target = dirs.library_dir(root)
    if _photo_count(target) > 0:
        return None
    best: MovedLibrary | None = None
    for folder in _library_folders(dirs):
        if folder == target:
            continue
        try:
            found = _probe(folder, root)
        except sqlite3.Error as exc:  # a damaged or busy catalog is simply not a candidate
            log.info("could not look into %s: %s", folder, exc)
            continue
        if found is None or not _matches(found):
            continue
        old = Path(found.old_root)
        if old.is_dir() and old.resolve() != root.resolve():
            try:
                there = _probe(folder, old)
            except sqlite3.Error:
                there = None
            if there is not None and _matches(there):
                log.info("%s holds the photos of %s, which still has them: a copy, not offered", root, old)
                continue
        if best is None or (found.matched / found.sampled, found.photos) > (best.matched / best.sampled, best.photos):
            best = found
    return best


def relink(old_root: Path, new_root: Path, dirs: AppDirs) -> MovedLibrary:
    """Move the index of the library that was at ``old_root`` to ``new_root``.

    Refused when ``new_root`` does not hold that library's photos or already has an index of
    its own. The caller opens the library afterwards; its next update finds the photos unchanged.
    """
    source = _data_folder_of(old_root, dirs)
    target = dirs.library_dir(new_root)
    if source == target:
        raise LibraryError(f"{new_root} already uses this index.", hint(Action.CHECK_INPUT))
    try:
        found = _probe(source, new_root)
    except sqlite3.Error as exc:
        raise LibraryError(f"The index of {old_root} cannot be read: {exc}") from exc
    if found is None or found.sampled == 0:
        raise LibraryError(f"The index of {old_root} holds no indexed photo to move.", hint(Action.CHECK_INPUT))
    if not _matches(found):
        raise LibraryError(
            f"{new_root} does not hold the photos of {found.old_root}: {found.matched} of {found.sampled} photos "
            "looked up were found there unchanged.",
            hint(Action.CHECK_INPUT),
        )
    existing = _photo_count(target)
    if existing:
        raise LibraryError(f"{new_root} already has an index of its own ({existing} photos).", hint(Action.CHECK_INPUT))
    if target.exists():
        _clear_empty(target)
    with WriterLock(source / LOCK_FILE):  # nobody indexes the library while it moves
        if sys.platform != "win32":
            os.rename(source, target)
    if sys.platform == "win32":
        # Windows refuses to rename a folder holding an open file (the lock itself); another
        # window with the library open keeps it from moving, and says so.
        os.rename(source, target)
    catalog = Catalog(target / CATALOG_FILE)
    try:
        with catalog.transaction() as tx:
            catalog.set_meta(tx, library_root=str(new_root), moved_from=found.old_root)
    finally:
        catalog.close()
    log.info("moved the index of %s (%d photos) to %s", found.old_root, found.photos, new_root)
    return MovedLibrary(found.old_root, str(new_root), found.photos, found.sampled, found.matched)


def _matches(found: MovedLibrary) -> bool:
    return found.sampled > 0 and found.matched >= math.ceil(MATCH_SHARE * found.sampled)


def _library_folders(dirs: AppDirs) -> Iterator[Path]:
    base = dirs.data / "libraries"
    if base.is_dir():
        yield from sorted(p for p in base.iterdir() if (p / CATALOG_FILE).is_file())


def _data_folder_of(old_root: Path, dirs: AppDirs) -> Path:
    """The data folder of the library that was at ``old_root``: by its path, else by the
    folder each catalog records (a link that no longer resolves gives another path)."""
    by_path = dirs.library_dir(old_root)
    if (by_path / CATALOG_FILE).is_file():
        return by_path
    wanted = {str(old_root), str(old_root.absolute()), str(old_root.resolve())}
    for folder in _library_folders(dirs):
        try:
            with closing(_connect(folder)) as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'library_root'").fetchone()
        except sqlite3.Error:
            continue
        if row and row[0] in wanted:
            return folder
    raise LibraryError(f"No index of a library at {old_root} was found.", hint(Action.CHECK_INPUT))


def _connect(folder: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(folder / CATALOG_FILE, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")  # looking never writes
    conn.execute("PRAGMA busy_timeout = 2000")
    return conn


def _photo_count(folder: Path) -> int:
    if not (folder / CATALOG_FILE).is_file():
        return 0
    try:
        with closing(_connect(folder)) as conn:
            return conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
    except sqlite3.Error:
        return 1  # unreadable: not ours to replace


def _probe(folder: Path, root: Path) -> MovedLibrary | None:
    """How many of a sample of the catalog's indexed photos are in ``root``, unchanged."""
    with closing(_connect(folder)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'library_root'").fetchone()
        if row is None:
            return None
        photos, top = conn.execute("SELECT COUNT(*), MAX(id) FROM photos").fetchone()
        if not photos:
            return None
        # Random ids, each rounded up to the next photo with a fingerprint: a few index seeks,
        # where ORDER BY RANDOM() would read every row.
        rng = random.Random(0)
        sample: dict[int, tuple[str, int, str]] = {}
        for start in sorted(rng.randint(1, top) for _ in range(SAMPLE)):
            hit = conn.execute(
                "SELECT id, rel_path, size, fingerprint FROM photos WHERE id >= ? AND fingerprint IS NOT NULL "
                "ORDER BY id LIMIT 1",
                (start,),
            ).fetchone()
            if hit is not None:
                sample[hit[0]] = (path_from_db(hit[1]), hit[2], hit[3])
    matched = sum(_unchanged(root / rel, size, fp) for rel, size, fp in sample.values())
    return MovedLibrary(row[0], str(root), photos, len(sample), matched)


def _unchanged(path: Path, size: int, fp: str) -> bool:
    try:
        return path.stat().st_size == size and fingerprint(path) == fp
    except OSError:
        return False


def _clear_empty(target: Path) -> None:
    """Make room for the moved index where an empty one was started (the folder was opened
    before): our own files go, anything else is kept aside."""
    if all(p.name in _OWN_FILES for p in target.iterdir()):
        shutil.rmtree(target)
    else:
        os.rename(target, target.with_name(f"{target.name}.before-move-{datetime.now():%Y%m%d-%H%M%S}"))
