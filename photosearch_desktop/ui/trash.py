"""The system trash: the only way the app ever removes a file (recoverable, never a delete), and
only a photo the person saw, where they saw it. The engine says which photo must be kept back
and why (engine/duplicates/removal.py); this module asks it for each, then trashes the rest."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QFile

from ..engine.library import trash_problem
from ..engine.records import PhotoRecord

# Qt's FreeDesktop trash (every Unix but macOS) renames the path it is given, so a link goes to
# the trash as the link and its target stays where it is (tests/gui/test_trash.py checks it with
# the Qt installed). For the Windows and macOS APIs it calls instead, Qt's documentation says
# nothing of links: a link is kept back there, with the reason.
LINKS_GO_ALONE = sys.platform not in ("win32", "darwin")


def move_to_trash(path: str) -> bool:
    moved = QFile.moveToTrash(path)  # bool, or (bool, path in the trash) in some bindings
    return bool(moved[0] if isinstance(moved, tuple) else moved)


@dataclass
class TrashReport:
    moved: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (path, why) not given to the trash
    failed: list[str] = field(default_factory=list)  # the trash refused them

    def summary(self) -> str:
        n = len(self.moved)
        text = f"Moved {n} photo{'s' if n != 1 else ''} to the Trash."
        if self.kept or self.failed:
            text += f" {len(self.kept) + len(self.failed)} not moved."
        return text

    def details(self) -> str:
        """Each photo not moved, and why."""
        lines = [f"{Path(path).name}: not moved, {why}." for path, why in self.kept]
        lines += [f"{Path(path).name}: the system trash refused it (no trash on that drive, or no permission)."
                  for path in self.failed]
        return "\n".join(lines)


def trash_photos(root: Path, photos: Sequence[tuple[str, PhotoRecord]]) -> TrashReport:
    """Move each (absolute path, catalog record) of the library at ``root`` to the system trash,
    unless the engine finds it must be kept back (changed since the duplicates were found, or not
    the library's own file)."""
    report = TrashReport()
    for path, photo in photos:
        why = trash_problem(root, Path(path), photo, LINKS_GO_ALONE)
        if why is not None:
            report.kept.append((path, why))
        elif move_to_trash(path):
            report.moved.append(path)
        else:
            report.failed.append(path)
    return report
