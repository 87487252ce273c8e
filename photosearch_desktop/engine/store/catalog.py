"""The catalog: photos, their metadata and their vectors, in one SQLite file.

SQLite is the source of truth. The FAISS file next to it is a cache rebuilt from here when
stale. Every batch of changes is one transaction, and a photo is marked ``indexed`` in the same
transaction that stores its vector, so a crash at any moment leaves a consistent catalog:
``indexed`` photos have vectors, and ``pending`` ones are simply embedded by the next run.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import posixpath
import sqlite3
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Action, CatalogDamaged, CatalogError, DiskFull, hint
from ..records import BrowseOrder, KnownFile, OfflineFolder, PhotoMeta, PhotoRecord, SearchFilters, SkippedFile
from ..system.private_files import create_private_file, private_dir

log = logging.getLogger(__name__)

# A photo's date for browsing: its capture date, or its file's date (UTC: an index may only use
# deterministic functions) until the photo has been read.
_BROWSE_DATE_SQL = "COALESCE(taken_at, strftime('%Y-%m-%d %H:%M:%S', mtime_ns / 1000000000, 'unixepoch'))"

# Each entry migrates the schema from version i to i+1; the version lives in PRAGMA user_version.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        rel_path TEXT NOT NULL UNIQUE,
        folder TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        fingerprint TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'skipped')),
        error TEXT,
        width INTEGER,
        height INTEGER,
        taken_at TEXT,
        taken_source TEXT,
        camera_make TEXT,
        camera_model TEXT,
        gps_lat REAL,
        gps_lon REAL,
        format TEXT,
        indexed_at REAL
    );
    CREATE INDEX photos_folder ON photos(folder);
    CREATE INDEX photos_taken_at ON photos(taken_at);
    CREATE INDEX photos_status ON photos(status);
    CREATE INDEX photos_fingerprint ON photos(fingerprint);
    CREATE TABLE vectors (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        vec BLOB NOT NULL
    );
    CREATE TABLE scan_problems (rel_path TEXT PRIMARY KEY, reason TEXT NOT NULL);
    """,
    # v2: filters read ids from these indexes alone (covering), instead of visiting a
    # million rows: 0.25 s -> a few ms for a 1 % folder at 1M photos.
    """
    CREATE INDEX photos_status_folder ON photos(status, folder, taken_at, taken_source);
    CREATE INDEX photos_status_taken_at ON photos(status, taken_at, taken_source);
    """,
    # v3: a checksum per vector. SQLite pages carry none, so a bit flipped on disk inside a
    # vector would otherwise be searched with, unseen.
    """
    ALTER TABLE vectors ADD COLUMN crc INTEGER;
    UPDATE vectors SET crc = vector_check(photo_id, vec);
    """,
    # v4: a perceptual hash per photo, taken when it is embedded; the duplicate finder decodes
    # only pairs whose hashes are close. Photos embedded before have none (decoded as before).
    """
    ALTER TABLE photos ADD COLUMN pixel_hash INTEGER;
    """,
    # v5: searches saved under a name (query terms and filters as JSON, see query/saved.py).
    # They live with the library's index, never in the photo folder.
    """
    CREATE TABLE saved_searches (name TEXT PRIMARY KEY, spec TEXT NOT NULL, saved_at REAL NOT NULL);
    """,
    # v6: browsing newest first reads this index in order instead of sorting every photo:
    # 100,000 photos in ~0.1 s instead of ~0.4 s (scripts/bench_gui.py --browse).
    f"""
    CREATE INDEX photos_browse ON photos({_BROWSE_DATE_SQL}, status, folder);
    """,
    # v7: photos whose files vanished in bulk (a drive unplugged) are kept offline, with their
    # status and vector, instead of deleted (engine/scan/missing.py). Every list of photos
    # leaves them out, so the covering indexes lead with the flag after the status, and a
    # partial index finds the (usually no) offline photos at once; the browse index holds the
    # flag too, so browsing stays one read in order.
    f"""
    ALTER TABLE photos ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
    DROP INDEX photos_status_folder;
    DROP INDEX photos_status_taken_at;
    DROP INDEX photos_folder;
    CREATE INDEX photos_status_folder ON photos(status, offline, folder, taken_at, taken_source);
    CREATE INDEX photos_status_taken_at ON photos(status, offline, taken_at, taken_source);
    CREATE INDEX photos_folder ON photos(folder, offline);
    CREATE INDEX photos_offline ON photos(folder) WHERE offline = 1;
    DROP INDEX photos_browse;
    CREATE INDEX photos_browse ON photos({_BROWSE_DATE_SQL}, status, offline, folder);
    """,
    # v8: a pixel signature per photo (engine/media/signature.py), taken when it is embedded:
    # collapsed results and the duplicate finder tell copies from other shots without
    # decoding. A table of its own keeps the photos rows, which filters read, small. Photos
    # indexed before get theirs on the next index run, without being embedded again.
    """
    CREATE TABLE pixel_signatures (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        sig BLOB NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_TABLES = frozenset({"meta", "photos", "vectors", "scan_problems", "pixel_signatures"})

VECTOR_DTYPE = np.float16  # half the size of float32; retrieval scores are unaffected (README)

_PHOTO_COLUMNS = (
    "id, rel_path, folder, size, mtime_ns, width, height, taken_at, taken_source, "
    "camera_make, camera_model, gps_lat, gps_lon, status, error, format"
)
# The same columns as one JSON array per photo, gathered into one value: see Catalog.photos.
# quote() writes a REAL exactly (json_array keeps 15 digits) and NULL as the word NULL.
_REAL_COLUMNS = frozenset({"gps_lat", "gps_lon"})
_PHOTO_JSON = ", ".join(f"quote({c})" if c in _REAL_COLUMNS else c for c in _PHOTO_COLUMNS.split(", "))
_REAL_AT = tuple(i for i, c in enumerate(_PHOTO_COLUMNS.split(", ")) if c in _REAL_COLUMNS)
_json_reads = True  # False once this SQLite turns out to have no JSON functions

# File names that are not valid UTF-8 reach Python as lone surrogates (U+DC80..U+DCFF), which
# SQLite cannot store. They are kept as private-use code points instead: reversible, and no
# real file name uses them.
_TO_DB = {0xDC00 + b: 0x10FF00 + b for b in range(0x80, 0x100)}
_FROM_DB = {v: k for k, v in _TO_DB.items()}


def path_to_db(rel: str) -> str:
    return rel if rel.isascii() else rel.translate(_TO_DB)


def path_from_db(rel: str) -> str:
    return rel if rel.isascii() else rel.translate(_FROM_DB)


def vector_check(photo_id: int, vec: bytes) -> int:
    """CRC-32 of a stored vector, seeded with its photo's id: a flipped bit, or a vector that
    ends up on another photo's row, no longer matches."""
    return zlib.crc32(vec, photo_id & 0xFFFFFFFF)


def _in_chunks(ids: Iterable[int]) -> Iterator[tuple[list[int], str]]:
    """``ids`` in slices SQLite can bind at once, each with its ``?,?,...`` placeholders."""
    wanted = list(ids)
    for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
        chunk = wanted[start : start + 900]
        yield chunk, ",".join("?" * len(chunk))


def folder_of(rel: str) -> str:
    return rel.rpartition("/")[0]


_SQLITE_IOERR_SHMSIZE = 4874
DISK_FULL_MESSAGE = "The disk holding the index is full; nothing was lost."


def disk_full() -> DiskFull:
    return DiskFull(DISK_FULL_MESSAGE, hint(Action.FREE_DISK))


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        # SQLITE_IOERR_SHMSIZE: no room for the WAL index (the -shm file) when opening.
        code = getattr(exc, "sqlite_errorcode", None)
        return code in (sqlite3.SQLITE_FULL, _SQLITE_IOERR_SHMSIZE) or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _is_damage(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in str(exc) or "not a database" in str(exc)


_BROWSE_ORDER: dict[BrowseOrder, str] = {
    # The photos_browse index's order (ties by status, folder, id): read in order, not sorted.
    "newest": f"{_BROWSE_DATE_SQL} DESC",
    "oldest": f"{_BROWSE_DATE_SQL} ASC",
    "name": "CASE WHEN folder = '' THEN rel_path ELSE substr(rel_path, length(folder) + 2) END COLLATE NOCASE, id",
    "folder": "folder COLLATE NOCASE, rel_path COLLATE NOCASE, id",
}


def _dt_to_db(value: datetime | None) -> str | None:
    return value.isoformat(sep=" ", timespec="seconds") if value else None


def _dt_from_db(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _row_to_record(row: Sequence[Any]) -> PhotoRecord:
    return PhotoRecord(
        id=row[0],
        rel_path=path_from_db(row[1]),
        folder=path_from_db(row[2]),
        size=row[3],
        mtime_ns=row[4],
        width=row[5],
        height=row[6],
        taken_at=_dt_from_db(row[7]),
        taken_source=row[8],
        camera_make=row[9],
        camera_model=row[10],
        gps_lat=row[11],
        gps_lon=row[12],
        status=row[13],
        error=row[14],
        format=row[15],
    )


class Catalog:
    """Thread-safe access to one library's catalog file (one connection per thread)."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        # One connection per OS thread, by its id. Not threading.local: a thread Qt's pool
        # started is foreign to Python and gets a fresh thread state (so a fresh threading.local)
        # on every call into Python; each call then opened a connection of its own, and scrolling
        # through 100,000 photos held ~490 MB of them (scripts/bench_gui.py --browse).
        self._by_thread: dict[int, sqlite3.Connection] = {}
        self._lock = threading.Lock()
        self._filter_cache: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
        # Photos whose stored vector failed its checksum when read; left out of every answer.
        self.damaged_vector_ids: set[int] = set()
        # Set when the disk is too full for SQLite's WAL index: the file is then read as it
        # is, and every write says the disk is full.
        self.frozen_by_full_disk = False
        if not readonly:
            # Owner-only before SQLite opens it: its WAL, SHM and journal files take its mode.
            private_dir(self.path.parent)
            create_private_file(self.path)
        try:
            self._migrate()
        except BaseException:
            # Closed at once, not when the traceback lets go of this object: Windows cannot
            # rename an open file, and a damaged catalog is moved aside next (store/recovery.py).
            self.close()
            raise

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = self._open_connection()
        conn.create_function("vector_check", 2, vector_check, deterministic=True)
        return conn

    def _open_connection(self) -> sqlite3.Connection:
        if self.frozen_by_full_disk:
            uri = f"{self.path.resolve().as_uri()}?immutable=1"
            return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        if self.readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.readonly:
                # WAL lets searches read while indexing writes; NORMAL sync in WAL mode keeps the
                # database consistent after a crash (at worst the last transaction is lost).
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _wal_is_empty(self) -> bool:
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            return wal.stat().st_size == 0
        except FileNotFoundError:
            return True

    @property
    def conn(self) -> sqlite3.Connection:
        ident = threading.get_ident()
        conn = self._by_thread.get(ident)
        if conn is None:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                if _is_disk_full(exc) and self.path.exists() and self._wal_is_empty():
                    # A full disk cannot hold even the 32 KB WAL index SQLite needs to open the
                    # file. With no WAL left, the file alone holds every committed change:
                    # read it as it is, so searching still works; writing says the disk is full.
                    log.warning("the disk holding %s is full: opening it read-only", self.path)
                    self.frozen_by_full_disk = True
                    return self.conn
                if _is_disk_full(exc):
                    raise disk_full() from exc
                if _is_damage(exc):
                    raise CatalogDamaged(f"The catalog {self.path} is damaged or not a catalog: {exc}") from exc
                raise CatalogError(f"Cannot open the catalog {self.path}: {exc}") from exc
            with self._lock:
                self._by_thread[ident] = conn
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._by_thread.values():
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._by_thread.clear()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write. A full disk (even at COMMIT) rolls it back and raises DiskFull,
        so the catalog stays as it was before the transaction."""
        conn = self.conn
        if self.frozen_by_full_disk:
            raise disk_full()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back by itself (it does on SQLITE_FULL).
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error as exc:
                        log.warning("rollback of %s failed: %s", self.path, exc)
                raise
        except (sqlite3.Error, OSError) as exc:
            if _is_disk_full(exc):
                raise disk_full() from exc
            raise

    def integrity_problem(self) -> str | None:
        """What ``PRAGMA quick_check`` finds wrong with the file's structure, or None.

        It reads every page (about 4 s per million photos when cached), so the indexer runs
        it under the writer lock, never the open path. It cannot see a flipped bit inside a
        stored value (SQLite pages carry no checksum): vectors carry their own (``crc``).
        """
        try:
            rows = [r[0] for r in self.conn.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None if rows == ["ok"] else "; ".join(rows)

    @staticmethod
    def move_aside(path: Path) -> Path:
        """Rename a damaged catalog (and its WAL files) to ``NAME.damaged-YYYYmmdd-HHMMSS``.

        The WAL goes with it: left behind, SQLite would replay it into the new catalog.
        """
        aside = path.with_name(f"{path.name}.damaged-{datetime.now():%Y%m%d-%H%M%S}")
        n = 1
        while aside.exists():
            n += 1
            aside = aside.with_name(f"{path.name}.damaged-{datetime.now():%Y%m%d-%H%M%S}-{n}")
        for suffix in ("-wal", "-shm", ""):
            src = path.with_name(path.name + suffix)
            if src.exists():
                os.replace(src, aside.with_name(aside.name + suffix))
        return aside

    def _migrate(self) -> None:
        conn = self.conn
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CatalogError(
                    f"The catalog {self.path} was written by a newer PhotoSearch "
                    f"(schema {version}, this version knows {SCHEMA_VERSION}).",
                    hint(Action.UPDATE_APP),
                )
            if version == SCHEMA_VERSION:
                # Cheap on purpose: the header and the schema only. PRAGMA quick_check reads
                # every page (4 s warm, a minute cold, at a million photos), so the indexer
                # runs it (integrity_problem), not every open.
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not _TABLES <= tables:
                    raise CatalogDamaged(f"The catalog {self.path} is damaged: tables are missing.")
                conn.execute("SELECT COUNT(*) FROM meta").fetchone()
                return
            if self.readonly:
                raise CatalogError(f"The catalog {self.path} needs an upgrade but is opened read-only.")
            for step in range(version, SCHEMA_VERSION):
                log.info("migrating catalog %s to schema %d", self.path, step + 1)
                with self.transaction() as tx:
                    for statement in MIGRATIONS[step].split(";"):
                        if statement.strip():
                            tx.execute(statement)
                    tx.execute(f"PRAGMA user_version = {step + 1}")
        except sqlite3.DatabaseError as exc:
            if _is_disk_full(exc):
                raise disk_full() from exc
            raise CatalogDamaged(f"The catalog {self.path} is damaged or not a catalog: {exc}") from exc

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, tx: sqlite3.Connection, **values: str | int | float) -> None:
        tx.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

    @property
    def generation(self) -> int:
        """Bumped by every change to the set of vectors; the FAISS cache records it."""
        return int(self.get_meta("generation") or 0)

    @property
    def catalog_id(self) -> str:
        """A random id given to this catalog when first asked: caches built from another
        catalog (one deleted and rebuilt at the same path) never match it."""
        value = self.get_meta("catalog_id")
        if value is None and not self.readonly:
            with self.transaction() as tx:
                tx.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('catalog_id', ?)", (uuid.uuid4().hex,))
            value = self.get_meta("catalog_id")
        return value or ""

    @property
    def revision(self) -> int:
        """Bumped by every change to the photos (moves too); cached filter results record it."""
        return int(self.get_meta("revision") or 0)

    def _bump_generation(self, tx: sqlite3.Connection) -> None:
        self._bump(tx, "generation")

    @staticmethod
    def _bump(tx: sqlite3.Connection, key: str) -> None:
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (key,),
        )

    # -- change detection ---------------------------------------------------------------------

    def known_files(self) -> dict[str, KnownFile]:
        """Every photo, offline ones included (``KnownFile.offline``)."""
        rows = self.conn.execute("SELECT rel_path, id, size, mtime_ns, fingerprint, status, error, offline FROM photos")
        return {path_from_db(r[0]): KnownFile(r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows}

    def apply_changes(
        self,
        new: Sequence[tuple[str, int, int, str | None]],
        modified: Sequence[tuple[int, int, int, str | None]],
        moved: Sequence[tuple[int, str, int]],
        deleted: Sequence[int],
        problems: Sequence[SkippedFile],
        retried: Sequence[int] = (),
        offline: Sequence[int] = (),
        online: Sequence[int] = (),
        touched: Sequence[tuple[int, int]] = (),
    ) -> None:
        """Record one scan's findings in one transaction.

        ``new``: (rel_path, size, mtime_ns, fingerprint); ``modified``: (id, size, mtime_ns,
        fingerprint); ``moved``: (id, new rel_path, mtime_ns); ``deleted``: ids; ``retried``:
        ids of skipped photos to try again; ``offline``: ids of photos kept while their files
        cannot be reached; ``online``: ids of offline photos found again; ``touched``: (id,
        mtime_ns) of photos whose time alone changed. Modified and moved photos are online.
        """
        with self.transaction() as tx:
            tx.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in deleted])
            tx.executemany(
                "UPDATE photos SET rel_path = ?, folder = ?, mtime_ns = ?, offline = 0 WHERE id = ?",
                [(path_to_db(p), path_to_db(folder_of(p)), m, i) for i, p, m in moved],
            )
            tx.executemany("DELETE FROM vectors WHERE photo_id = ?", [(m[0],) for m in modified])
            tx.executemany("DELETE FROM pixel_signatures WHERE photo_id = ?", [(m[0],) for m in modified])
            tx.executemany(
                "UPDATE photos SET size = ?, mtime_ns = ?, fingerprint = ?, status = 'pending', error = NULL, "
                "offline = 0 WHERE id = ?",
                [(s, m, f, i) for i, s, m, f in modified],
            )
            tx.executemany("UPDATE photos SET mtime_ns = ? WHERE id = ?", [(m, i) for i, m in touched])
            tx.executemany("UPDATE photos SET offline = 1 WHERE id = ?", [(i,) for i in offline])
            tx.executemany("UPDATE photos SET offline = 0 WHERE id = ?", [(i,) for i in online])
            tx.executemany("UPDATE photos SET status = 'pending', error = NULL WHERE id = ?", [(i,) for i in retried])
            tx.executemany(
                "INSERT INTO photos(rel_path, folder, size, mtime_ns, fingerprint, status) "
                "VALUES (?, ?, ?, ?, ?, 'pending')",
                [(path_to_db(p), path_to_db(folder_of(p)), s, m, f) for p, s, m, f in new],
            )
            tx.execute("DELETE FROM scan_problems")
            tx.executemany(
                "INSERT OR REPLACE INTO scan_problems(rel_path, reason) VALUES (?, ?)",
                [(path_to_db(p.rel_path), p.reason) for p in problems],
            )
            if deleted or modified or offline or online:  # the set of searchable vectors changed
                self._bump_generation(tx)
            self._bump(tx, "revision")

    def pending(self) -> list[tuple[int, str]]:
        """Photos to embed; offline ones wait until their files are back."""
        rows = self.conn.execute(
            "SELECT id, rel_path FROM photos WHERE status = 'pending' AND offline = 0 ORDER BY rel_path"
        )
        return [(r[0], path_from_db(r[1])) for r in rows]

    # -- results of embedding ----------------------------------------------------------------

    def store_batch(
        self,
        indexed: Sequence[tuple[int, np.ndarray, PhotoMeta, str | None]],
        skipped: Sequence[tuple[int, str, str | None]],
    ) -> None:
        """Store vectors and metadata of embedded photos, and reasons of skipped ones.

        ``indexed``: (id, vector, meta, fingerprint); ``skipped``: (id, reason, fingerprint).
        """
        now = time.time()
        with self.transaction() as tx:
            blobs = [(pid, np.asarray(vec, dtype=VECTOR_DTYPE).tobytes()) for pid, vec, _, _ in indexed]
            tx.executemany(
                "INSERT OR REPLACE INTO vectors(photo_id, vec, crc) VALUES (?, ?, ?)",
                [(pid, blob, vector_check(pid, blob)) for pid, blob in blobs],
            )
            tx.executemany(
                "UPDATE photos SET status = 'indexed', error = NULL, width = ?, height = ?, taken_at = ?, "
                "taken_source = ?, camera_make = ?, camera_model = ?, gps_lat = ?, gps_lon = ?, format = ?, "
                "pixel_hash = ?, fingerprint = COALESCE(?, fingerprint), indexed_at = ? WHERE id = ?",
                [
                    (
                        m.width,
                        m.height,
                        _dt_to_db(m.taken_at),
                        m.taken_source,
                        m.camera_make,
                        m.camera_model,
                        m.gps_lat,
                        m.gps_lon,
                        m.format,
                        m.pixel_hash,
                        fp,
                        now,
                        pid,
                    )
                    for pid, _, m, fp in indexed
                ],
            )
            tx.executemany(
                "INSERT OR REPLACE INTO pixel_signatures(photo_id, sig) VALUES (?, ?)",
                [(pid, m.pixel_signature) for pid, _, m, _ in indexed if m.pixel_signature is not None],
            )
            tx.executemany(
                "UPDATE photos SET status = 'skipped', error = ?, fingerprint = COALESCE(?, fingerprint), "
                "indexed_at = ? WHERE id = ?",
                [(reason, fp, now, pid) for pid, reason, fp in skipped],
            )
            if indexed:
                self._bump_generation(tx)
            self._bump(tx, "revision")
            self.set_meta(tx, last_indexed_at=now)

    def unsigned(self) -> list[tuple[int, str]]:
        """Indexed photos without a pixel signature (indexed before signatures were kept),
        offline ones left for when their drive is back."""
        rows = self.conn.execute(
            "SELECT p.id, p.rel_path FROM photos p LEFT JOIN pixel_signatures s ON s.photo_id = p.id "
            "WHERE p.status = 'indexed' AND p.offline = 0 AND s.photo_id IS NULL ORDER BY p.rel_path"
        )
        return [(r[0], path_from_db(r[1])) for r in rows]

    def store_signatures(self, signed: Sequence[tuple[int, int | None, bytes]]) -> None:
        """(photo id, perceptual hash, signature) of photos indexed before, in one transaction;
        an empty signature records that none could be taken (the photo is not tried again).
        A photo deleted or changed since its decode began is left alone."""
        with self.transaction() as tx:
            tx.executemany(
                "INSERT INTO pixel_signatures(photo_id, sig) SELECT id, ? FROM photos "
                "WHERE id = ? AND status = 'indexed' ON CONFLICT(photo_id) DO NOTHING",
                [(sig, pid) for pid, _, sig in signed],
            )
            tx.executemany(
                "UPDATE photos SET pixel_hash = COALESCE(?, pixel_hash) WHERE id = ? AND status = 'indexed'",
                [(h, pid) for pid, h, _ in signed],
            )

    def reset_vectors(self, model_name: str, model_identity: str, dim: int) -> int:
        """Forget every vector (the model changed): all photos become pending again."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM vectors")
            count = tx.execute("UPDATE photos SET status = 'pending', error = NULL").rowcount
            self.set_meta(tx, model_name=model_name, model_identity=model_identity, dim=dim)
            self._bump_generation(tx)
            self._bump(tx, "revision")
        return count

    def set_model(self, model_name: str, model_identity: str, dim: int) -> None:
        with self.transaction() as tx:
            self.set_meta(tx, model_name=model_name, model_identity=model_identity, dim=dim)

    @property
    def chosen_model(self) -> str | None:
        """The model an index run was last asked to use before any photo was embedded (the
        ``model_name`` of the vectors is the one that counts once there are any)."""
        return self.get_meta("model_chosen")

    def choose_model(self, model_name: str) -> None:
        if self.chosen_model != model_name:  # written only when it changes
            with self.transaction() as tx:
                self.set_meta(tx, model_chosen=model_name)

    # -- reading -----------------------------------------------------------------------------

    def vectors(self, ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64, float32 matrix) of those photos that have a vector."""
        rows = []
        for chunk, marks in _in_chunks(ids):
            rows += self.conn.execute(
                f"SELECT photo_id, vec, crc FROM vectors WHERE photo_id IN ({marks})", chunk
            ).fetchall()
        return self._unpack(rows)

    def iter_vectors(self, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every searchable vector (offline photos' are kept but left out), in id order, a
        chunk at a time (a million at once would be 2 GB)."""
        cursor = self.conn.execute(
            "SELECT photo_id, vec, crc FROM vectors "
            "WHERE photo_id NOT IN (SELECT id FROM photos WHERE offline = 1) ORDER BY photo_id"
        )
        while rows := cursor.fetchmany(chunk):
            yield self._unpack(rows)

    def _unpack(self, rows: list[tuple[int, bytes, int | None]]) -> tuple[np.ndarray, np.ndarray]:
        """Rows -> (ids, float32 matrix), leaving out (and remembering) vectors whose
        checksum fails: a damaged vector is never searched with."""
        bad = {r[0] for r in rows if vector_check(r[0], r[1]) != r[2]}
        if bad:
            log.warning("%d stored vectors in %s failed their checksum: left out", len(bad), self.path)
            with self._lock:
                self.damaged_vector_ids |= bad
            rows = [r for r in rows if r[0] not in bad]
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return ids, np.zeros((0, int(self.get_meta("dim") or 0)), dtype=np.float32)
        blob = b"".join(r[1] for r in rows)
        return ids, np.frombuffer(blob, dtype=VECTOR_DTYPE).reshape(len(rows), -1).astype(np.float32)

    def requeue_damaged_vectors(self) -> list[int]:
        """Check every stored vector's checksum; the photos of those that fail lose their
        vector and become pending, so the next embedding pass redoes them. Reads every
        vector (about 0.1 s per 100,000), so the indexer calls it, not every open."""
        # Read first, write only if needed: an intact catalog on a full disk stays usable.
        ids = [r[0] for r in self.conn.execute("SELECT photo_id FROM vectors WHERE crc IS NOT vector_check(photo_id, vec)")]
        if ids:
            with self.transaction() as tx:
                tx.executemany("DELETE FROM vectors WHERE photo_id = ?", [(i,) for i in ids])
                tx.executemany("UPDATE photos SET status = 'pending', error = NULL WHERE id = ?", [(i,) for i in ids])
                self._bump_generation(tx)
                self._bump(tx, "revision")
        with self._lock:
            self.damaged_vector_ids.clear()
        return ids

    def vector_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def photos(self, ids: Sequence[int]) -> dict[int, PhotoRecord]:
        """The records of those photos that exist.

        Read as one JSON value per chunk, not row by row: Python's sqlite3 lets go of the GIL
        around every row it steps to, so a page of 256 records read on a worker thread while
        the GUI thread runs Python waited for the GIL 256 times. Measured (a 100k-photo
        catalog, 2 cores, another thread busy in Python): 448 ms a page row by row (12 ms of
        CPU), 17 ms as one value (2.8 ms of CPU); scrolling the browse grid read 381 pages at
        9.5 ms of CPU each. An SQLite built without its JSON functions is read row by row."""
        global _json_reads
        out: dict[int, PhotoRecord] = {}
        for chunk, marks in _in_chunks(ids):
            rows: Iterable[Sequence[Any]] | None = None
            if _json_reads:
                sql = f"SELECT json_group_array(json_array({_PHOTO_JSON})) FROM photos WHERE id IN ({marks})"
                try:
                    decoded: list[list[Any]] = json.loads(self.conn.execute(sql, chunk).fetchone()[0])
                except sqlite3.OperationalError as exc:
                    log.info("reading records row by row: %s", exc)
                    _json_reads = False
                else:
                    for values in decoded:
                        for k in _REAL_AT:
                            values[k] = None if values[k] == "NULL" else float(values[k])
                    rows = decoded
            if rows is None:
                rows = self.conn.execute(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id IN ({marks})", chunk)
            for row in rows:
                out[row[0]] = _row_to_record(row)
        return out

    def photo(self, photo_id: int) -> PhotoRecord | None:
        return self.photos([photo_id]).get(photo_id)

    def photo_by_path(self, rel_path: str) -> PhotoRecord | None:
        row = self.conn.execute(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE rel_path = ?", (path_to_db(rel_path),)
        ).fetchone()
        return _row_to_record(row) if row else None

    def filtered_ids(self, filters: SearchFilters) -> np.ndarray:
        """Ids of indexed photos that pass the folder and date filters (offline ones never).

        Remembered per filter until the photos change: a person runs query after query under
        one filter, and at a million photos even an index seek is milliseconds.
        """
        key = (filters.folder, filters.date_from, filters.date_to, filters.include_undated, self.revision)
        with self._lock:
            hit = self._filter_cache.get(key)
            if hit is not None:
                self._filter_cache.move_to_end(key)
                return hit
        ids = self._query_filtered_ids(filters)
        ids.setflags(write=False)
        with self._lock:
            self._filter_cache[key] = ids
            while len(self._filter_cache) > 16:
                self._filter_cache.popitem(last=False)
        return ids

    def _query_filtered_ids(self, filters: SearchFilters) -> np.ndarray:
        folder = path_to_db(filters.folder.strip("/"))
        # With a folder, the folder index (which also holds the dates) drives the query;
        # "+taken_at" keeps SQLite from choosing the date index and checking folders row by row.
        taken = "+taken_at" if folder else "taken_at"
        where, params = ["status = 'indexed'", "offline = 0"], []
        date_clauses = []
        if filters.date_from is not None:
            date_clauses.append(f"{taken} >= ?")
            params.append(_dt_to_db(filters.date_from))
        if filters.date_to is not None:
            date_clauses.append(f"{taken} <= ?")
            params.append(_dt_to_db(filters.date_to))
        if date_clauses:
            dated = " AND ".join(date_clauses)
            undated = f"{taken} IS NULL OR taken_source = 'file-mtime'"
            where.append(f"(({dated}) OR {undated})" if filters.include_undated else f"({dated})")
        base = f"SELECT id FROM photos WHERE {' AND '.join(where)}"
        if folder:
            # The folder itself, then everything below it: names from "F/" up to (not
            # including) "F0" ('0' follows '/'). Two index seeks; an OR or a LIKE would scan.
            sql = f"{base} AND folder = ? UNION ALL {base} AND folder >= ? AND folder < ?"
            params = [*params, folder, *params, folder + "/", folder + "0"]
        else:
            sql = base
        return np.fromiter((r[0] for r in self.conn.execute(sql, params)), dtype=np.int64)

    def browse_ids(self, filters: SearchFilters, order: BrowseOrder = "newest") -> np.ndarray:
        """Ids of the photos to browse (indexed, and pending ones: a photo is seen as soon as it
        is found, before the model has seen it), under the folder and date filters, in ``order``.
        Remembered until the photos change, as filtered_ids is.

        Photos not yet read (pending) have no capture date: their file's date stands in for it.
        """
        key = ("browse", order, filters.folder, filters.date_from, filters.date_to, filters.include_undated,
               self.revision)
        with self._lock:
            hit = self._filter_cache.get(key)
        if hit is not None:
            return hit
        ids = self._query_browse_ids(filters, order)
        ids.setflags(write=False)
        with self._lock:
            self._filter_cache[key] = ids
            while len(self._filter_cache) > 16:
                self._filter_cache.popitem(last=False)
        return ids

    def _query_browse_ids(self, filters: SearchFilters, order: BrowseOrder) -> np.ndarray:
        folder = path_to_db(filters.folder.strip("/"))
        # Without a folder, "+status" keeps SQLite on the browse index (read in date order);
        # with one, the folder index finds the few photos and sorting them is cheap.
        where = ["status IN ('indexed', 'pending')" if folder else "+status IN ('indexed', 'pending')", "offline = 0"]
        params: list[str | None] = []
        if folder:
            where.append("(folder = ? OR (folder >= ? AND folder < ?))")
            params += [folder, folder + "/", folder + "0"]
        dated = []
        if filters.date_from is not None:
            dated.append(f"{_BROWSE_DATE_SQL} >= ?")
            params.append(_dt_to_db(filters.date_from))
        if filters.date_to is not None:
            dated.append(f"{_BROWSE_DATE_SQL} <= ?")
            params.append(_dt_to_db(filters.date_to))
        if dated:
            undated = " OR taken_at IS NULL OR taken_source = 'file-mtime'" if filters.include_undated else ""
            where.append(f"(({' AND '.join(dated)}){undated})")
        sql = f"SELECT id FROM photos WHERE {' AND '.join(where)} ORDER BY {_BROWSE_ORDER[order]}"
        return np.fromiter((r[0] for r in self.conn.execute(sql, params)), dtype=np.int64)

    def capture_date_range(self) -> tuple[datetime, datetime] | None:
        """The first and last camera dates of the indexed photos (file dates if none has one)."""
        for camera_only in (True, False):
            extra = " AND taken_source != 'file-mtime'" if camera_only else ""
            row = self.conn.execute(
                f"SELECT MIN(taken_at), MAX(taken_at) FROM photos WHERE status = 'indexed' AND offline = 0 "
                f"AND taken_at IS NOT NULL{extra}"
            ).fetchone()
            if row[0] is not None:
                return _dt_from_db(row[0]), _dt_from_db(row[1])  # type: ignore[return-value]
        return None

    def pixel_hashes(self, ids: Sequence[int]) -> dict[int, int]:
        """Perceptual hashes of those photos that have one."""
        out: dict[int, int] = {}
        for chunk, marks in _in_chunks(ids):
            sql = f"SELECT id, pixel_hash FROM photos WHERE id IN ({marks}) AND pixel_hash IS NOT NULL"
            out.update(self.conn.execute(sql, chunk).fetchall())
        return out

    def signatures(self, ids: Sequence[int]) -> dict[int, bytes]:
        """Pixel signatures of those photos that have one."""
        out: dict[int, bytes] = {}
        for chunk, marks in _in_chunks(ids):
            sql = f"SELECT photo_id, sig FROM pixel_signatures WHERE photo_id IN ({marks}) AND length(sig) > 0"
            out.update(self.conn.execute(sql, chunk).fetchall())
        return out

    def signatures_and_sizes(self, ids: Sequence[int]) -> dict[int, tuple[bytes | None, int | None, int | None]]:
        """(pixel signature or None, width, height) of each of those photos that exists: what
        folding copies in a result list needs, in one read."""
        out: dict[int, tuple[bytes | None, int | None, int | None]] = {}
        for chunk, marks in _in_chunks(ids):
            sql = ("SELECT p.id, s.sig, p.width, p.height FROM photos p LEFT JOIN pixel_signatures s "
                   f"ON s.photo_id = p.id AND length(s.sig) > 0 WHERE p.id IN ({marks})")
            out.update((row[0], row[1:]) for row in self.conn.execute(sql, chunk))
        return out

    def same_fingerprint_sets(self) -> list[list[int]]:
        """Ids of indexed photos sharing fingerprint and size, one list per set.

        Files in one set are probably byte-identical (the fingerprint covers only the head and
        tail of a file, so a full comparison must confirm it).
        """
        rows = self.conn.execute(
            "SELECT group_concat(id) FROM photos WHERE status = 'indexed' AND offline = 0 AND fingerprint IS NOT NULL "
            "GROUP BY fingerprint, size HAVING COUNT(*) > 1"
        )
        return [sorted(int(i) for i in r[0].split(",")) for r in rows]

    def folders(self) -> list[str]:
        """Every folder holding photos that are not offline, and their parents, sorted."""
        names = {path_from_db(r[0]) for r in self.conn.execute("SELECT DISTINCT folder FROM photos WHERE offline = 0")}
        out = set()
        for name in names:
            while name:
                out.add(name)
                name = folder_of(name)
        return sorted(out)

    def counts(self) -> dict[str, int]:
        """Photos by state: indexed, pending and skipped count those online; offline, the rest."""
        counts = {"indexed": 0, "pending": 0, "skipped": 0, "offline": 0}
        for status, offline, n in self.conn.execute("SELECT status, offline, COUNT(*) FROM photos GROUP BY 1, 2"):
            counts["offline" if offline else status] += n
        return counts

    def offline_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM photos WHERE offline = 1").fetchone()[0]

    def offline_folders(self) -> list[OfflineFolder]:
        """Offline photos by top-level folder, each named by the deepest folder holding all of
        that group ("2019/Summer" when only it is gone); "" for photos of the library folder itself."""
        groups: dict[str, list[tuple[str, int]]] = {}
        for folder, n in self.conn.execute("SELECT folder, COUNT(*) FROM photos WHERE offline = 1 GROUP BY folder"):
            name = path_from_db(folder)
            groups.setdefault(name.partition("/")[0], []).append((name, n))
        out = []
        for members in groups.values():
            names = [name for name, _ in members]
            common = posixpath.commonpath(names) if all(names) else ""
            out.append(OfflineFolder(common, sum(n for _, n in members)))
        return sorted(out, key=lambda f: f.folder)

    def has_scan_problems(self) -> bool:
        return self.conn.execute("SELECT EXISTS(SELECT 1 FROM scan_problems)").fetchone()[0] == 1

    def skipped(self) -> list[SkippedFile]:
        rows = self.conn.execute(
            "SELECT rel_path, error FROM photos WHERE status = 'skipped' AND offline = 0 "
            "UNION ALL SELECT rel_path, reason FROM scan_problems ORDER BY 1"
        )
        return [SkippedFile(path_from_db(r[0]), r[1] or "Unknown problem") for r in rows]

    # -- saved searches ---------------------------------------------------------------------

    def saved_searches(self) -> list[tuple[str, str, float]]:
        """(name, spec JSON, saved at) of every saved search, by name."""
        rows = self.conn.execute("SELECT name, spec, saved_at FROM saved_searches ORDER BY name COLLATE NOCASE")
        return [(r[0], r[1], r[2]) for r in rows]

    def save_search(self, name: str, spec: str) -> None:
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO saved_searches(name, spec, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, saved_at = excluded.saved_at",
                (name, spec, time.time()),
            )

    def rename_search(self, old: str, new: str) -> bool:
        """False when there is no search ``old`` or one named ``new`` already exists."""
        with self.transaction() as tx:
            if old != new and tx.execute("SELECT 1 FROM saved_searches WHERE name = ?", (new,)).fetchone():
                return False
            return tx.execute("UPDATE saved_searches SET name = ? WHERE name = ?", (new, old)).rowcount == 1

    def delete_search(self, name: str) -> bool:
        with self.transaction() as tx:
            return tx.execute("DELETE FROM saved_searches WHERE name = ?", (name,)).rowcount == 1

    def consistency_problems(self) -> list[str]:
        """Invariants a crash must never break; an empty list means consistent."""
        checks = {
            "vector without a photo": "SELECT COUNT(*) FROM vectors v LEFT JOIN photos p ON p.id = v.photo_id "
            "WHERE p.id IS NULL",
            "photo marked indexed without a vector": "SELECT COUNT(*) FROM photos p LEFT JOIN vectors v "
            "ON v.photo_id = p.id WHERE p.status = 'indexed' AND v.photo_id IS NULL",
            "vector of a photo not marked indexed": "SELECT COUNT(*) FROM vectors v JOIN photos p "
            "ON p.id = v.photo_id WHERE p.status != 'indexed'",
        }
        out = []
        for label, sql in checks.items():
            n = self.conn.execute(sql).fetchone()[0]
            if n:
                out.append(f"{n} {label}")
        return out
