"""Opening a library's catalog, and replacing one that is damaged.

The photos are the source of truth, so a damaged catalog is moved aside (never deleted) and a
new one started: indexing again recovers everything but the time to embed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ..errors import Action, CatalogDamaged, hint
from ..system.lock import WriterLock
from .catalog import Catalog

log = logging.getLogger(__name__)

Notify = Callable[[str], None]  # tells the person something the engine did on its own


def open_catalog(path: Path, lock_path: Path, readonly: bool, notify: Notify) -> Catalog:
    """Open the catalog; a damaged one is replaced under the writer lock. Read-only, or while
    another process writes the library (LibraryBusy), the damage is reported instead."""
    try:
        return Catalog(path, readonly=readonly)
    except CatalogDamaged as exc:
        if readonly:
            raise
        damage = str(exc)
    with WriterLock(lock_path):
        try:
            return Catalog(path)  # another process may have replaced it meanwhile
        except CatalogDamaged:
            return replace_damaged(path, damage, notify)


def replace_damaged(path: Path, damage: str, notify: Notify) -> Catalog:
    """Move the damaged catalog aside and start an empty one; the caller holds the writer lock."""
    try:
        aside = Catalog.move_aside(path)
    except OSError as exc:  # e.g. another window still has it open on Windows
        raise CatalogDamaged(
            f"The catalog {path} is damaged ({damage}) and could not be moved aside ({exc.strerror or exc}).",
            hint(Action.CLOSE_OTHERS),
        ) from exc
    # The vector cache belongs to the old catalog (its photo ids): never reuse it.
    for cache in path.parent.glob("vectors.*"):
        cache.unlink(missing_ok=True)
    notify(
        f"The catalog of this library was damaged ({damage}). It was moved aside to {aside.name} "
        "and a new one was started: indexing the folder rebuilds it from your photos, which were "
        "not touched."
    )
    return Catalog(path)
