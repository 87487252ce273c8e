"""One error root for everything the engine tells a person.

Every error the engine raises on purpose is a :class:`PhotoSearchError`: a message in plain
words that says what happened, and a :class:`Hint` that says, as data, what the person can
do about it. The engine never words the remedy in terms of one front end: the command line
turns ``Action.CHOOSE_MODEL`` into "use --model NAME", the window into "choose another model
in Settings". So no message here names a command-line flag or a menu.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Action(Enum):
    """Something a person can do to get past an error."""

    INDEX_LIBRARY = "index-library"  # index the folder (nothing is indexed yet)
    REINDEX = "reindex"  # index again with the model asked for now (a full rebuild)
    USE_INDEXED_MODEL = "use-indexed-model"  # search with the model the library was indexed with (Hint.model)
    USE_INDEXED_WEIGHTS = "use-indexed-weights"  # search with the weights file the library was indexed with
    CHOOSE_MODEL = "choose-model"  # another model; Hint.model suggests one
    GIVE_WEIGHTS = "give-weights"  # a weights file on this computer; Hint.url says where to download it
    CONNECT = "connect"  # connect to the internet once (weights download on first use)
    REPLACE_WEIGHTS = "replace-weights"  # the weights file is damaged: copy or download it again
    DOWNLOAD_WEIGHTS_AGAIN = "download-weights-again"  # the downloaded weights do not check out: fetch them anew
    REINSTALL = "reinstall"  # reinstall the package named in Hint.package
    UPDATE_APP = "update-app"  # a newer PhotoSearch wrote this
    CHOOSE_DEVICE = "choose-device"  # the device asked for is not there
    FREE_DISK = "free-disk"  # the disk holding the index is full
    CLOSE_OTHERS = "close-others"  # another PhotoSearch window or command holds the library
    WAIT = "wait"  # another PhotoSearch process is updating the library: try again later
    RAISE_THRESHOLD = "raise-threshold"  # duplicates: the similarity asked for is far too low
    CHECK_INPUT = "check-input"  # a file or value given by the person is not usable
    RESTART = "restart"  # something stopped that starts again on the next try
    RECONNECT = "reconnect"  # the photos' drive or share is not there: connect it and update the index


@dataclass(frozen=True)
class Hint:
    """What a person can do, in order of preference, with what the actions refer to."""

    actions: tuple[Action, ...] = ()
    model: str | None = None  # the model CHOOSE_MODEL or USE_INDEXED_MODEL points to
    url: str | None = None  # where GIVE_WEIGHTS's file can be downloaded
    file_name: str | None = None  # the file GIVE_WEIGHTS asks for
    package: str | None = None  # the package REINSTALL reinstalls

    def __contains__(self, action: object) -> bool:
        return action in self.actions


def hint(*actions: Action, **about: Any) -> Hint:
    return Hint(tuple(actions), **about)


def advice(hint: Hint, words: Callable[[Action, Hint], str]) -> str:
    """A hint as one sentence, " Do this, or that." (or ""), each action in a front end's
    ``words`` (an action it has no words for is left out)."""
    said = [w for w in (words(a, hint) for a in hint.actions) if w]
    if not said:
        return ""
    text = ", or ".join(said)
    return f" {text[0].upper()}{text[1:]}."


class PhotoSearchError(Exception):
    """An engine error meant for a person: ``message`` says what went wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: Hint | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or Hint()

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Survives pickling to and from the model's process, hint included.
        return _rebuild, (type(self), self.message, self.hint, self.__dict__)


def _rebuild(cls: type[PhotoSearchError], message: str, hint: Hint, state: dict[str, Any]) -> PhotoSearchError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    error.message, error.hint = message, hint
    return error


class Cancelled(PhotoSearchError):
    """The caller's cancel event was set; not a failure."""

    def __init__(self, message: str = "Cancelled.", hint: Hint | None = None) -> None:
        super().__init__(message, hint)


class LibraryError(PhotoSearchError):
    """A library operation cannot go ahead."""


class LibraryBusy(LibraryError):
    """Another PhotoSearch process is updating this library."""


class CatalogError(PhotoSearchError):
    """The catalog (the library's index file) cannot be used."""


class CatalogDamaged(CatalogError):
    """The catalog file is damaged (or is not a catalog at all)."""


class DiskFull(CatalogError):
    """A write failed for lack of space; the transaction was rolled back."""


class ModelError(PhotoSearchError):
    """A model could not be loaded or used."""


class TextNotSupported(ModelError):
    """The model has no text tower, so text queries are impossible."""


class ModelStopped(ModelError):
    """The model's process ended (crashed, or killed for lack of memory); it can be started again."""


class LoadError(PhotoSearchError):
    """A file that cannot be turned into an image.

    ``code`` is one of "empty", "truncated", "corrupt", "not-an-image", "unsupported",
    "too-large", "unreadable", "vanished"; ``reason`` is a sentence for the person.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code

    @property
    def reason(self) -> str:
        return self.message


class DuplicateSearchError(PhotoSearchError):
    """The duplicate search cannot give a useful answer."""


class EvaluationError(PhotoSearchError):
    """The groups file of an evaluation cannot be used."""
