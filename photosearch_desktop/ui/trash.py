"""The system trash: the only way the app ever removes a file (recoverable, never a delete)."""

from __future__ import annotations

from PySide6.QtCore import QFile


def move_to_trash(path: str) -> bool:
    moved = QFile.moveToTrash(path)  # bool, or (bool, path in the trash) in some bindings
    return bool(moved[0] if isinstance(moved, tuple) else moved)
