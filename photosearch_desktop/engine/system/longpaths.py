"""Paths past Windows's 260-character limit (MAX_PATH).

Deep libraries reach it (an export's album names, nested year/month/event folders): without the
``\\\\?\\`` prefix, opening such a file fails as if it did not exist unless the person switched on
long paths in the registry. With it, the Windows API takes the path as it is, up to 32,767
characters. Elsewhere paths pass through unchanged.
"""

from __future__ import annotations

import ntpath
import os
import sys

# Folders are limited to 248 (room for an 8.3 file name); a margin below both limits.
LONG = 240
_PREFIX = "\\\\?\\"


def long_path(path: str | os.PathLike[str], platform: str = sys.platform) -> str:
    """``path`` as the OS must be given it: on Windows, a long path becomes an absolute
    ``\\\\?\\C:\\...`` or ``\\\\?\\UNC\\server\\share\\...`` path (which Windows does not
    normalise, so it is normalised here: backslashes, no ``.`` or ``..``)."""
    text = os.fspath(path)
    if platform != "win32" or len(text) < LONG or text.startswith(_PREFIX):
        return text
    full = ntpath.normpath(text if ntpath.isabs(text) else ntpath.join(os.getcwd(), text))
    if full.startswith("\\\\"):
        return _PREFIX + "UNC\\" + full[2:]
    return _PREFIX + full
