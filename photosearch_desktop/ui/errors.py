"""Turns exceptions into plain sentences for dialogs and the status bar.

The engine's errors carry a message and a hint (what to do, as data); this module gives them a
title and words the hint the window's way: Settings and Update index, never command-line flags.
Operating-system errors a person can act on (disk full, no permission) get words of their own.
Only the engine's light modules are imported, so it is cheap to use from the GUI thread.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

from ..engine.errors import (
    Action,
    CatalogError,
    Hint,
    LibraryBusy,
    LibraryError,
    LoadError,
    ModelError,
    ModelStopped,
    PhotoSearchError,
    TextNotSupported,
    advice,
)
from ..engine.library import available_models


@dataclass(frozen=True)
class UserMessage:
    title: str
    text: str
    hint: Hint = Hint()  # what the person can do; a dialog may offer a button for it


MODEL_ERROR_TITLE = "The model could not be loaded"
# Most specific first: the first class an error is an instance of gives its title.
_TITLES: tuple[tuple[type[PhotoSearchError], str], ...] = (
    (ModelStopped, "The model stopped"),
    (TextNotSupported, "Text search is not available"),
    (ModelError, MODEL_ERROR_TITLE),
    (LibraryBusy, "The library is busy"),
    (CatalogError, "Problem with the library's index"),
    (LoadError, "This image cannot be read"),
    (LibraryError, "Library problem"),
)

_WORDS = {
    Action.INDEX_LIBRARY: "wait for indexing to save its first photos, or choose Update index",
    Action.REINDEX: "choose Update index to index every photo again with the new model",
    Action.USE_INDEXED_WEIGHTS: "choose the weights file the library was indexed with in Settings",
    Action.CONNECT: "connect to the internet and try again (the weights download once)",
    Action.REPLACE_WEIGHTS: "copy or download the weights file again",
    Action.DOWNLOAD_WEIGHTS_AGAIN: "choose Download again to fetch a fresh copy",
    Action.UPDATE_APP: "update PhotoSearch",
    Action.CHOOSE_DEVICE: "choose another device in Settings",
    Action.FREE_DISK: "free some space, then choose Update index again; your photos are not affected",
    Action.CLOSE_OTHERS: "close every other PhotoSearch window and command, then try again",
    Action.WAIT: "wait for it to finish, then try again",
    Action.RAISE_THRESHOLD: "raise the similarity",
    Action.RESTART: "it starts again with the next search or index update",
    Action.RECONNECT: "connect the drive or network share that holds the photos, then choose Update index",
}


def describe_error(exc: BaseException, log_path: str | None = None) -> UserMessage:
    if isinstance(exc, PhotoSearchError):
        title = next((t for cls, t in _TITLES if isinstance(exc, cls)), "Something went wrong")
        return UserMessage(title, _one_line(exc) + advice(exc.hint, _action_words), exc.hint)
    if isinstance(exc, OSError):
        return _describe_os_error(exc)
    if isinstance(exc, sqlite3.Error):
        if "full" in str(exc).lower():
            return _disk_full()
        return UserMessage("Problem with the library's index", f"The index could not be read or written: {_one_line(exc)}")
    if isinstance(exc, MemoryError):
        return UserMessage("Not enough memory", "The computer ran out of memory. Close other apps and try again.")
    where = f" Details were written to {log_path}." if log_path else ""
    return UserMessage("Something went wrong", f"Unexpected problem ({type(exc).__name__}: {_one_line(exc)}).{where}")


def _action_words(action: Action, hint: Hint) -> str:
    if action is Action.CHOOSE_MODEL:
        spec = {m.name: m for m in available_models()}.get(hint.model or "")
        if spec is None:
            return "choose another model in Settings"
        free = ", which needs no download" if spec.download_mb == 0 else ""
        return f"choose another model in Settings (for example {spec.name}{free})"
    if action is Action.USE_INDEXED_MODEL:
        return f"switch back to {hint.model} in Settings" if hint.model else "switch back to the library's model in Settings"
    if action is Action.GIVE_WEIGHTS:
        where = f" from {hint.url}" if hint.url else ""
        return f"download {hint.file_name or 'the weights file'}{where} and choose it as the weights file in Settings"
    if action is Action.REINSTALL:
        return f"reinstall it: pip install --force-reinstall {hint.package}" if hint.package else "reinstall PhotoSearch"
    return _WORDS.get(action, "")


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
