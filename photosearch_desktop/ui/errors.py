"""Turns exceptions into plain sentences for dialogs and the status bar.

The engine's own errors already carry a message meant for the user; this module only adds a
title and words the operating-system errors a person can act on (disk full, no permission).
It deliberately imports nothing from the engine, so it is cheap to use from the GUI thread.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class UserMessage:
    title: str
    text: str


MODEL_ERROR_TITLE = "The model could not be loaded"
_ENGINE_TITLES = {
    "ModelStopped": "The model stopped",
    "ModelError": MODEL_ERROR_TITLE,
    "TextNotSupported": "Text search is not available",
    "LibraryBusy": "The library is busy",
    "CatalogError": "Problem with the library's index",
    "LoadError": "This image cannot be read",
    "LibraryError": "Library problem",
}


def describe_error(exc: BaseException, log_path: str | None = None) -> UserMessage:
    name = type(exc).__name__
    if type(exc).__module__.startswith("photosearch_desktop.engine"):
        for cls in type(exc).__mro__:
            if cls.__name__ in _ENGINE_TITLES:
                return UserMessage(_ENGINE_TITLES[cls.__name__], _one_line(exc))
    if isinstance(exc, OSError):
        return _describe_os_error(exc)
    if isinstance(exc, sqlite3.Error):
        if "full" in str(exc).lower():
            return _disk_full()
        return UserMessage("Problem with the library's index", f"The index could not be read or written: {_one_line(exc)}")
    if isinstance(exc, MemoryError):
        return UserMessage("Not enough memory", "The computer ran out of memory. Close other apps and try again.")
    where = f" Details were written to {log_path}." if log_path else ""
    return UserMessage("Something went wrong", f"Unexpected problem ({name}: {_one_line(exc)}).{where}")


def _describe_os_error(exc: OSError) -> UserMessage:
    target = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return _disk_full()
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UserMessage("No permission", f"PhotoSearch is not allowed to read or write a file{target}.")
    if exc.errno == errno.ENOENT:
        return UserMessage("File or folder missing", f"A file or folder could not be found{target}. "
                           "It may have been moved, renamed or be on a disconnected drive.")
    return UserMessage("File problem", f"{exc.strerror or _one_line(exc)}{target}.")


def _disk_full() -> UserMessage:
    return UserMessage(
        "The disk is full",
        "There is no space left on the disk that holds PhotoSearch's index and thumbnails. "
        "Free some space, then choose Update index again. Your photos are not affected.",
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
