"""Compares a fresh scan with the catalog: new, modified, moved, deleted, unchanged, and the
offline photos that came back."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..records import RETRY_REASONS, KnownFile
from .fingerprint import fingerprint
from .scanner import FileStat, ScanResult

log = logging.getLogger(__name__)

# Offline photos found again at their path with their size and mtime are checked against
# their stored fingerprint, a sample of them first: another disk mounted at the same place
# would fail nearly every check, so a clean sample lets 100,000 photos back after reading
# 32 x 128 KiB instead of 12 GB.
RETURN_SAMPLE = 32


@dataclass
class Changes:
    new: list[tuple[str, int, int, str | None]] = field(default_factory=list)  # rel, size, mtime, fp
    modified: list[tuple[int, int, int, str | None]] = field(default_factory=list)  # id, size, mtime, fp
    moved: list[tuple[int, str, int]] = field(default_factory=list)  # id, new rel, mtime
    # id, mtime: only the time changed (same size and fingerprint), as when a library is copied
    # without its times or a FAT drive crosses a daylight-saving change: the vector stays, and
    # so does a date taken from the file's time (a copy's time is when it was copied)
    touched: list[tuple[int, int]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)  # unchanged, skipped for a reason that may pass
    unchanged: int = 0
    offline: list[int] = field(default_factory=list)  # vanished, but kept (engine/scan/missing.py)
    returned: list[int] = field(default_factory=list)  # offline photos found again (moved ones too)
    still_offline: list[int] = field(default_factory=list)  # offline and still not found
    kept: int = 0  # online photos under folders that could not be read: left as they were

    @property
    def empty(self) -> bool:
        return not (
            self.new or self.modified or self.moved or self.touched or self.deleted or self.retried or self.offline
            or self.returned
        )


class _Unread:
    """Whether a path lies in (or is) a folder the scan could not read to the end."""

    def __init__(self, prefixes: list[str]) -> None:
        self.everything = "" in prefixes
        self.prefixes = frozenset(prefixes)

    def covers(self, rel: str) -> bool:
        if self.everything:
            return True
        if not self.prefixes:
            return False
        parts = rel.split("/")
        return any("/".join(parts[:i]) in self.prefixes for i in range(1, len(parts) + 1))


def detect_changes(root: Path, scan: ScanResult, known: dict[str, KnownFile]) -> Changes:
    """One pass over the scan.

    A file that disappeared from one path and appeared at another with the same size and
    fingerprint was moved or renamed: it keeps its row and vector, nothing is re-embedded.
    Likewise a file whose time alone changed (same size and fingerprint) is only touched.
    Fingerprints are computed here only for new files whose size matches a vanished one and
    for files of the same size with another time; the rest get theirs in the decode threads,
    which read the file anyway.

    A file is gone only if the folder that held it was read to the end: under a folder the
    scan could not read (``scan.unread``) it stays as it was. Whether the photos that are gone
    are deleted or kept offline is decided afterwards (engine/scan/missing.py).
    """
    changes = Changes()
    unread = _Unread(scan.unread)
    gone: dict[str, KnownFile] = {}
    for rel, k in known.items():
        if rel in scan.files:
            continue
        if unread.covers(rel):
            changes.kept += not k.offline
        else:
            gone[rel] = k
    gone_by_size: dict[int, list[tuple[str, KnownFile]]] = defaultdict(list)
    for rel, k in gone.items():
        gone_by_size[k.size].append((rel, k))

    coming_back: list[tuple[str, KnownFile]] = []
    for rel, st in scan.files.items():
        seen = known.get(rel)
        if seen is None:
            _new_or_moved(root, rel, st, gone_by_size, changes)
        elif seen.size != st.size or seen.mtime_ns != st.mtime_ns:
            if seen.size == st.size and seen.fingerprint and _fingerprint_of(root, rel) == seen.fingerprint:
                changes.touched.append((seen.id, st.mtime_ns))
                _unchanged(seen, changes)
            else:
                changes.modified.append((seen.id, st.size, st.mtime_ns, None))
        elif seen.offline:
            coming_back.append((rel, seen))
        else:
            _unchanged(seen, changes)
    _confirm_returns(root, coming_back, scan.files, changes)
    moved_ids = {m[0] for m in changes.moved}
    for k in gone.values():
        if k.id in moved_ids:
            if k.offline:
                changes.returned.append(k.id)
        elif k.offline:
            changes.still_offline.append(k.id)
        else:
            changes.deleted.append(k.id)
    return changes


def _unchanged(seen: KnownFile, changes: Changes) -> None:
    """A known file whose contents are as they were: an offline one is back."""
    if seen.offline:
        changes.returned.append(seen.id)
    else:
        changes.unchanged += 1
    if seen.status == "skipped" and (seen.error or "").startswith(RETRY_REASONS):
        changes.retried.append(seen.id)


def _confirm_returns(
    root: Path, candidates: list[tuple[str, KnownFile]], files: dict[str, FileStat], changes: Changes
) -> None:
    """Offline photos found at their old path, size and mtime come back as they were if their
    fingerprints agree: a sample is checked, and every one of them if the sample disagrees."""
    checkable = [(rel, k) for rel, k in candidates if k.fingerprint]
    step = max(1, len(checkable) // RETURN_SAMPLE)
    sample = checkable[::step][:RETURN_SAMPLE]
    to_check = checkable if any(_fingerprint_of(root, rel) != k.fingerprint for rel, k in sample) else []
    differ: dict[int, str | None] = {}
    for rel, k in to_check:
        fp = _fingerprint_of(root, rel)
        if fp != k.fingerprint:
            differ[k.id] = fp
    if differ:
        log.info("%d offline photos came back with other contents: embedded again", len(differ))
    for rel, k in candidates:
        if k.id not in differ:
            changes.returned.append(k.id)
            if k.status == "skipped" and (k.error or "").startswith(RETRY_REASONS):
                changes.retried.append(k.id)
        elif differ[k.id] is None:
            changes.still_offline.append(k.id)  # listed, but cannot be read: not back yet
        else:
            st = files[rel]
            changes.modified.append((k.id, st.size, st.mtime_ns, differ[k.id]))


def _fingerprint_of(root: Path, rel: str) -> str | None:
    try:
        return fingerprint(root / rel)
    except OSError as exc:
        log.debug("cannot fingerprint %s: %s", rel, exc)
        return None


def _new_or_moved(
    root: Path,
    rel: str,
    st: FileStat,
    gone_by_size: dict[int, list[tuple[str, KnownFile]]],
    changes: Changes,
) -> None:
    candidates = gone_by_size.get(st.size)
    fp = None
    if candidates:
        try:
            fp = fingerprint(root / rel)
        except OSError as exc:
            log.debug("cannot fingerprint %s: %s", rel, exc)
        for i, (_, k) in enumerate(candidates):
            if fp is not None and k.fingerprint == fp:
                del candidates[i]
                changes.moved.append((k.id, rel, st.mtime_ns))
                return
    changes.new.append((rel, st.size, st.mtime_ns, fp))
