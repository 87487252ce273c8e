"""The system trash: the only way the app ever removes a file (recoverable, never a delete), and
only a photo the person saw, where they saw it. The engine says which photo must be kept back
and why (engine/duplicates/removal.py); this module asks it for each, then trashes the rest.

``QFile.moveToTrash`` uses the Recycle Bin on Windows, the Finder's trash on macOS and the
freedesktop trash (``~/.local/share/Trash`` or the drive's ``.Trash-UID``) elsewhere. macOS and
Linux refuse (it returns False) where a drive has no trash. Windows does not: on a network
share, a USB stick or a memory card the shell's "recycle" deletes the file for good without a
word, so there a photo is moved only from a fixed local drive. Qt's freedesktop trash needs
the user's data folder (``~/.local/share``) to exist already, which a fresh account may lack:
it is created first.
"""

from __future__ import annotations

import ntpath
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QFile, QStandardPaths

from ..engine.library import trash_problem
from ..engine.records import PhotoRecord

DRIVE_FIXED = 3  # GetDriveTypeW: a local hard disk or SSD, where Windows keeps a Recycle Bin

# Qt's FreeDesktop trash (every Unix but macOS) renames the path it is given, so a link goes to
# the trash as the link and its target stays where it is (tests/gui/test_trash.py checks it with
# the Qt installed). For the Windows and macOS APIs it calls instead, Qt's documentation says
# nothing of links: a link is kept back there, with the reason.
LINKS_GO_ALONE = sys.platform not in ("win32", "darwin")


def move_to_trash(
    path: str, platform: str = sys.platform, drive_type: Callable[[str], int] | None = None
) -> bool:
    """Moves ``path`` to the trash; False (nothing done) where it cannot be moved there."""
    if platform == "win32" and not has_recycle_bin(path, drive_type or _windows_drive_type):
        return False
    if platform not in ("win32", "darwin"):
        data_home = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        try:
            Path(data_home).mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # then Qt finds no trash and says so (False)
    moved = QFile.moveToTrash(path)  # bool, or (bool, path in the trash) in some bindings
    return bool(moved[0] if isinstance(moved, tuple) else moved)


def has_recycle_bin(path: str, drive_type: Callable[[str], int]) -> bool:
    """Whether a Windows path lies on a fixed local drive (``C:\\``), not a share (``\\\\nas\\photos``,
    a mapped ``Z:``), removable media or an optical disc."""
    drive, _ = ntpath.splitdrive(ntpath.abspath(path) if sys.platform == "win32" else path)
    if not drive or drive.startswith(("\\\\", "//")):
        return False  # a UNC path: a network share
    return drive_type(drive + "\\") == DRIVE_FIXED


def _windows_drive_type(root: str) -> int:
    import ctypes

    return int(ctypes.windll.kernel32.GetDriveTypeW(root))  # type: ignore[attr-defined]


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
