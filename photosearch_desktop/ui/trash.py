"""The system trash: the only way the app ever removes a file (recoverable, never a delete).

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
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFile, QStandardPaths

DRIVE_FIXED = 3  # GetDriveTypeW: a local hard disk or SSD, where Windows keeps a Recycle Bin


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
