"""Missing is not deleted: when photos vanish in bulk, they are kept offline instead.

An unplugged drive, a network share that is not connected, or a folder on a disk that is not
mounted looks to a scan exactly like photos deleted by the person: the folder is missing or
empty. Deleting them would throw their vectors away, and the whole library would be embedded
again when the drive is back (72 minutes for 100,000 photos at this machine's 23 photos/s).
So a vanishing that looks like a disconnection marks the photos *offline* (kept with their
vectors, left out of results) rather than deleting them:

- the library folder is missing, cannot be opened, or holds no photo at all;
- more than ``SHARE`` of the photos vanished, and at least ``MIN_PHOTOS``;
- every photo of a top-level folder vanished (``MIN_FOLDER_PHOTOS`` or more): ``2019/`` is a
  mount point or a link to another disk more often than a folder deleted whole.

Fewer photos going (a person deleting a few) are deleted as before. Asked to remove the
missing photos, every photo not found is deleted, offline ones included.
"""

from __future__ import annotations

from collections import defaultdict

from ..records import KnownFile
from .changes import Changes
from .scanner import ScanResult

SHARE = 0.20
MIN_PHOTOS = 50
# Re-embedding fewer photos than this costs well under a second: a small top-level folder
# deleted by the person goes as it always did.
MIN_FOLDER_PHOTOS = 10


def hold_missing(changes: Changes, known: dict[str, KnownFile], scan: ScanResult, remove_missing: bool) -> None:
    """Move the vanished photos that look disconnected from ``changes.deleted`` to
    ``changes.offline``; with ``remove_missing``, delete the offline ones instead."""
    if remove_missing:
        changes.deleted += changes.still_offline
        changes.still_offline = []
        return
    if not changes.deleted:
        return
    if scan.root_problem is not None or not scan.files:
        _hold(changes, set(changes.deleted))
        return
    online = sum(1 for k in known.values() if not k.offline)
    if len(changes.deleted) >= MIN_PHOTOS and len(changes.deleted) > SHARE * online:
        _hold(changes, set(changes.deleted))
        return
    deleted = set(changes.deleted)
    by_top: dict[str, list[int]] = defaultdict(list)
    for rel, k in known.items():
        if k.id in deleted and "/" in rel:
            by_top[rel.partition("/")[0]].append(k.id)
    present = {rel.partition("/")[0] for rel in scan.files if "/" in rel}
    present.update(u.partition("/")[0] for u in scan.unread)
    held = {i for top, ids in by_top.items() if top not in present and len(ids) >= MIN_FOLDER_PHOTOS for i in ids}
    if held:
        _hold(changes, held)


def _hold(changes: Changes, ids: set[int]) -> None:
    changes.offline += [i for i in changes.deleted if i in ids]
    changes.deleted = [i for i in changes.deleted if i not in ids]
