"""Plain records passed between the window and its worker threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .latest import Ticket

if TYPE_CHECKING:
    from ..engine.library import Library
    from ..engine.records import IndexReport, OfflineFolder, SearchFilters, SearchQuery


@dataclass(frozen=True)
class OpenRequest:
    root: Path
    data_dir: Path | None
    # Use exactly this model (asked for on the command line, or confirmed in Settings);
    # switching an indexed library to another model re-indexes it.
    model: str | None = None
    # The model for a library that was never indexed; an indexed one keeps its own.
    default_model: str | None = None
    device: str | None = None
    weights: Path | None = None
    redownload_weights: bool = False  # the person asked for the model's weights to be fetched anew
    # A folder with no index yet is first checked for a library that moved there (offered to
    # the person); relink_from moves that library's index here before opening.
    look_for_moved: bool = True
    relink_from: Path | None = None


@dataclass(frozen=True)
class LibraryInfo:
    """What the window shows about an open library; gathered in a worker thread."""

    root: Path
    model_name: str
    indexed_model: str | None
    supports_text: bool
    dup_threshold: float
    thumbnails_dir: Path
    folders: list[str]
    indexed: int
    pending: int
    skipped: int
    notices: tuple[str, ...] = ()  # told once, e.g. that a damaged catalog was replaced
    runtime: str = ""  # what runs the model, for the status bar: "ONNX Runtime", "torch", "torch on the GPU"
    capture_dates: tuple[date, date] | None = None  # the first and last camera dates
    offline: int = 0  # kept in the index while their files cannot be reached
    offline_folders: tuple[OfflineFolder, ...] = ()
    reachable: bool = True  # whether the photo folder itself is there
    library_id: str = ""  # stays when the library moves: thumbnails are keyed by it


@dataclass(frozen=True)
class SearchRequest:
    ticket: Ticket  # a request that is no longer the newest is skipped, its answer dropped
    query: SearchQuery
    k: int
    filters: SearchFilters


@dataclass(frozen=True)
class IndexJob:
    library: Library
    cancel: threading.Event = field(default_factory=threading.Event)
    batch_size: int = 16  # small batches: progress every few seconds, and a quick cancel
    remove_missing: bool = False  # delete the photos not found instead of keeping them offline


@dataclass(frozen=True)
class IndexOutcome:
    report: IndexReport
    info: LibraryInfo


@dataclass(frozen=True)
class DuplicatesRequest:
    ticket: Ticket
    library: Library
    folder: str
    floor: float  # candidate pairs are searched once at this similarity
    threshold: float
    rebuild: bool  # search pairs again (first time, other folder, after photos were trashed)
