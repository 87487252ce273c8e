"""Compares a fresh scan with the catalog: new, modified, moved, deleted, unchanged."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..records import RETRY_REASONS, KnownFile
from .fingerprint import fingerprint
from .scanner import FileStat, ScanResult

log = logging.getLogger(__name__)


@dataclass
class Changes:
    new: list[tuple[str, int, int, str | None]] = field(default_factory=list)  # rel, size, mtime, fp
    modified: list[tuple[int, int, int, str | None]] = field(default_factory=list)  # id, size, mtime, fp
    moved: list[tuple[int, str, int]] = field(default_factory=list)  # id, new rel, mtime
    deleted: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)  # unchanged, skipped for a reason that may pass
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.modified or self.moved or self.deleted or self.retried)


def detect_changes(root: Path, scan: ScanResult, known: dict[str, KnownFile]) -> Changes:
    """One pass over the scan.

    A file that disappeared from one path and appeared at another with the same size and
    fingerprint was moved or renamed: it keeps its row and vector, nothing is re-embedded.
    Fingerprints are computed here only for new files whose size matches a vanished one; the
    rest get theirs in the decode threads, which read the file anyway.
    """
    changes = Changes()
    gone = {rel: k for rel, k in known.items() if rel not in scan.files}
    gone_by_size: dict[int, list[tuple[str, KnownFile]]] = defaultdict(list)
    for rel, k in gone.items():
        gone_by_size[k.size].append((rel, k))

    for rel, st in scan.files.items():
        seen = known.get(rel)
        if seen is None:
            _new_or_moved(root, rel, st, gone_by_size, changes)
        elif seen.size != st.size or seen.mtime_ns != st.mtime_ns:
            changes.modified.append((seen.id, st.size, st.mtime_ns, None))
        else:
            changes.unchanged += 1
            if seen.status == "skipped" and (seen.error or "").startswith(RETRY_REASONS):
                changes.retried.append(seen.id)
    moved_ids = {m[0] for m in changes.moved}
    changes.deleted = [k.id for k in gone.values() if k.id not in moved_ids]
    return changes


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
