"""The engine's one front door: the command line and the window use this module, the records
(``records.py``) and the errors (``errors.py``), nothing else of the engine.

:class:`Library` is a thin facade over the stages (scan -> load -> embed -> store/index ->
search, and duplicates): opening one is cheap (no model, no vectors); the model and the vector
index are loaded on first use, or ahead of time with :meth:`Library.warm_up` from a background
thread. Every method may be called from any thread.

Importing this module is light (no numpy, faiss or torch): the window imports it on its GUI
thread and the heavy stages later, in a worker (:func:`preload`).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Action, LibraryError, LoadError, ModelError, hint
from .models.registry import DEFAULT_MODEL, MODELS, get_spec
from .query.weights import parse_weight
from .records import (
    BrowseOrder,
    DuplicateGroup,
    EvaluationReport,
    IndexReport,
    LibraryStatus,
    LoadedImage,
    ModelSpec,
    MovedLibrary,
    OfflineFolder,
    PhotoRecord,
    PipelineOptions,
    Preparation,
    QueryTerm,
    RuntimePlan,
    SavedSearch,
    SearchFilters,
    SearchQuery,
    SearchResult,
    SkippedFile,
)
from .system.lock import WriterLock
from .system.log_files import WithoutImageData, log_file_handler
from .system.memory import release_free_memory
from .system.paths import CATALOG_FILE, DATA_DIR_ENV, LOCK_FILE, AppDirs, app_dirs
from .system.private_files import create_private_file, keep_private, private_dir

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from .duplicates.finder import DuplicateFinder
    from .embed.pipeline import ProgressCallback
    from .models.base import Embedder

log = logging.getLogger(__name__)

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_MODEL",
    "AppDirs",
    "Library",
    "WithoutImageData",
    "app_dirs",
    "available_models",
    "create_private_file",
    "find_moved_library",
    "keep_private",
    "load_preview",
    "log_file_handler",
    "model_spec",
    "offline_summary",
    "parse_weight",
    "pixels_term",
    "preload",
    "private_dir",
    "relink_library",
    "trash_problem",
]

# The stages a library needs to open and search; imported by preload().
_HEAVY_MODULES = (
    "numpy",
    "numpy.ma",  # np.unique imports it on its first call (~50 ms)
    "faiss",
    ".store.catalog",
    ".store.index_cache",
    ".store.recovery",
    ".query.search",
    ".query.terms",  # and the image loader: 85 ms, once on the first query otherwise
    ".query.compose",
    ".models.handle",
)


def preload() -> None:
    """Import what opening and searching a library needs (numpy, faiss, the catalog)."""
    for name in _HEAVY_MODULES:
        importlib.import_module(name, __package__)
    from .system.blas import find_blas

    find_blas()


def start_model_process_early() -> None:
    """Start a model process now, while the caller gets on with other work: the next library
    opened with ``model_process=True`` takes it with its imports done (models/spawn.py)."""
    from .models.spawn import start_spare

    start_spare()


def available_models() -> list[ModelSpec]:
    return list(MODELS.values())


def model_spec(name: str) -> ModelSpec:
    """A registry name, or ``clip:ARCH[:TAG]`` for any open_clip model (ModelError if unknown)."""
    return get_spec(name)


def find_moved_library(root: Path | str, data_dir: Path | str | None = None) -> MovedLibrary | None:
    """The indexed library whose photos are in ``root`` (it moved there), if ``root`` has no
    photo indexed yet; None otherwise. Reads a sample of photos (see store/relink.py)."""
    from .store.relink import find_moved

    return find_moved(Path(root).expanduser().resolve(), app_dirs(data_dir))


def relink_library(old_root: Path | str, new_root: Path | str, data_dir: Path | str | None = None) -> MovedLibrary:
    """Move the index of the library that was at ``old_root`` to ``new_root``, which must hold
    its photos and have no index of its own (LibraryError otherwise). Nothing is embedded again."""
    from .store.relink import relink

    new = Path(new_root).expanduser().resolve()
    if not new.is_dir():
        raise LibraryError(f"The photo folder {new} does not exist or is not a folder.", hint(Action.CHECK_INPUT))
    return relink(Path(old_root).expanduser(), new, app_dirs(data_dir))


def offline_summary(root: Path, folders: list[OfflineFolder] | tuple[OfflineFolder, ...], everything: bool) -> list[str]:
    """One sentence per group of offline photos, e.g. "2019/ (8,412 photos) is not reachable —
    is a drive disconnected?"; one for the whole library when ``everything`` is offline."""
    def count(n: int) -> str:
        return f"{n:,} photo{'s' if n != 1 else ''}"

    question = "is a drive disconnected?"
    if everything:
        total = sum(f.photos for f in folders)
        return [f"The photo folder {root} ({count(total)}) is not reachable — {question}"] if total else []
    return [
        f"{f.folder}/ ({count(f.photos)}) is not reachable — {question}" if f.folder
        else f"{count(f.photos)} in {root} itself {'is' if f.photos == 1 else 'are'} not reachable — {question}"
        for f in folders
    ]


def load_preview(path: Path, max_side: int) -> LoadedImage:
    """A photo decoded for display: upright, at most ``max_side`` (LoadError if it cannot be)."""
    from .media.loader import load_preview as load

    return load(path, max_side)


PIXELS_MAX_SIDE = 512  # a pasted image is kept at most this large: the models see 224-260 px


def pixels_term(image: Image.Image, label: str = "", weight: float = 1.0) -> QueryTerm:
    """A query term for an in-memory image (pasted or dropped as data), kept as a small PNG so
    that a saved search can run it again."""
    import io

    small = image.convert("RGB")
    if max(small.size) > PIXELS_MAX_SIDE:
        small = small.copy()
        small.thumbnail((PIXELS_MAX_SIDE, PIXELS_MAX_SIDE))
    data = io.BytesIO()
    small.save(data, "PNG")
    return QueryTerm("pixels", label, pixels=data.getvalue(), weight=weight)


def trash_problem(root: Path, path: Path, photo: PhotoRecord, links_alone: bool) -> str | None:
    """Why the library photo ``photo`` at ``path`` must not go to the system trash now (outside
    the library, changed since the duplicates were found...), in words; None if it may."""
    from .duplicates.removal import trash_problem as problem

    return problem(root, path, photo, links_alone)


def _check_files_exist(query: SearchQuery) -> None:
    """Refuse a query photo file that does not exist, before a search starts loading the model
    ahead (the standard library alone: the query modules are imported after that start)."""
    for path in (Path(t.text).expanduser() for t in query.terms if t.kind == "file"):
        if not path.is_file():
            raise LoadError("vanished", f"The query photo {path} does not exist or is not a file.")


def _other_weights(indexed: str, given: str) -> ModelError:
    return ModelError(
        f"This library was indexed with other weights ({indexed}) than the ones in use now ({given}), "
        "and their vectors cannot be compared.",
        hint(Action.USE_INDEXED_WEIGHTS, Action.REINDEX),
    )


class Library:
    def __init__(
        self,
        root: Path | str,
        data_dir: Path | str | None = None,
        model: str | None = None,
        device: str | None = None,
        weights: Path | str | None = None,
        readonly: bool = False,
        model_process: bool = False,
        runtime: str | None = None,
        model_preparing: Callable[[Preparation], None] | None = None,
        redownload_weights: bool = False,
    ) -> None:
        """``model_process``: run the model in a separate process (the window does, so that
        torch never holds its interpreter; the command line keeps it in-process).
        ``runtime``: what runs the model, "auto" (default), "onnx" or "torch" (see
        models/runtime.py). ``model_preparing`` hears of the model's one-time preparation for
        this computer (its ONNX export, tens of seconds) as it starts and ends.
        ``redownload_weights``: download the model's weights anew when it loads (the person asked
        for it, after the ones in the cache were refused).

        Where a GPU is expected and neither the runtime nor the device was chosen, queries and
        index runs of fewer than ``gpu_run_photos()`` photos use a model on the CPU, which starts
        in about a second (torch takes seconds to start on a GPU); larger runs use the GPU."""
        from .models.handle import ModelHandle
        from .models.runtime import gpu_expected
        from .store.index_cache import IndexCache
        from .store.recovery import open_catalog

        self.root = Path(root).expanduser().resolve()
        self.dirs = app_dirs(data_dir)
        self.data_dir = self.dirs.library_dir(self.root)
        # A library already indexed opens without its folder (a drive unplugged, its mount
        # point gone): its photos are offline until the folder is back.
        if not self.root.is_dir() and not (self.data_dir / CATALOG_FILE).is_file():
            raise LibraryError(
                f"The photo folder {self.root} does not exist or is not a folder.", hint(Action.CHECK_INPUT)
            )
        self.readonly = readonly
        # What the person should be told once, e.g. that a damaged catalog was replaced.
        self.notices: list[str] = []
        self._lock_path = self.data_dir / LOCK_FILE
        self._catalog = open_catalog(self.data_dir / CATALOG_FILE, self._lock_path, readonly, self._notify)
        if not readonly and self._catalog.get_meta("library_root") != str(self.root):
            # Written only when it changes: opening then writes nothing, so searching still
            # works when the disk is full.
            with self._catalog.transaction() as tx:
                self._catalog.set_meta(tx, library_root=str(self.root))
        self.model_name = model or self.indexed_model or self._catalog.chosen_model or DEFAULT_MODEL
        self.spec = get_spec(self.model_name)
        self.weights = Path(weights).expanduser() if weights else None
        self.device = device
        self.runtime = runtime
        chosen = (runtime or "auto").lower() != "auto" or (device or "auto").lower() != "auto"
        self._gpu_runs = not chosen and gpu_expected() is not None
        handle = partial(
            ModelHandle, self.model_name, device, self.weights, self.dirs.models, model_process, runtime,
            model_preparing, redownload_weights,
        )
        self._model = handle(for_queries=self._gpu_runs)
        self._gpu_model = handle() if self._gpu_runs else None
        self._index = IndexCache(self._catalog, self.data_dir / "vectors.faiss", self._notify, readonly)

    @property
    def reachable(self) -> bool:
        """Whether the photo folder is there now (an unplugged drive's is not)."""
        return self.root.is_dir()

    @property
    def library_id(self) -> str:
        """The catalog's own id: it stays when the library moves (thumbnails are keyed by it)."""
        return self._catalog.catalog_id

    @property
    def indexed_model(self) -> str | None:
        """The model the library's vectors come from (None until the first photo is embedded);
        read from the catalog, so an index run in another thread or process shows at once."""
        return self._catalog.get_meta("model_name")

    # -- life cycle ------------------------------------------------------------------------------

    def _notify(self, notice: str) -> None:
        # Logged at INFO: the person hears of it from ``notices`` (the CLI prints them, the
        # window shows them), and a WARNING would print it a second time in the terminal.
        log.info("%s", notice)
        if notice not in self.notices:
            self.notices.append(notice)

    def close(self) -> None:
        self._model.close()
        if self._gpu_model is not None:
            self._gpu_model.close()
        self._catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embedder(self) -> Embedder:
        """The model, loaded once (slow the first time: imports torch, maybe downloads)."""
        return self._model.get()

    def warm_up(self) -> None:
        """Load the model (every part of it) and the vector index now, so the first query does not wait."""
        self._model.get().warm_up()
        if self.indexed_model:
            self._index.get()

    # -- indexing --------------------------------------------------------------------------------

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        options: PipelineOptions | None = None,
        remove_missing: bool = False,
    ) -> IndexReport:
        """Bring the index up to date with the folder: only what changed is done.

        Photos whose files vanish in bulk (the folder missing or empty, a whole top-level
        folder, or more than a fifth of them) are kept offline instead of deleted, and come
        back, not embedded again, with the update that finds them. ``remove_missing`` deletes
        every photo not found instead, offline ones too."""
        from .indexer import Indexer

        if self.readonly:
            raise LibraryError("This library is open read-only.")
        started = time.perf_counter()
        with WriterLock(self._lock_path):
            self._replace_if_damaged()
            indexer = Indexer(self.root, self._catalog, self._index, self._model, self._notify, self._gpu_model)
            try:
                report = indexer.run(progress, cancel, options or PipelineOptions(), remove_missing)
            finally:
                if self._gpu_model is not None:
                    self._gpu_model.close()  # its GPU memory and torch's gigabyte, until the next large run
        release_free_memory()  # the scan's per-file records: ~150 MB at 100,000 photos
        report.seconds = time.perf_counter() - started
        return report

    def _replace_if_damaged(self) -> None:
        """``PRAGMA quick_check`` reads every page, so it runs here, under the writer lock,
        never when a library opens."""
        from .store.recovery import replace_damaged

        problem = self._catalog.integrity_problem()
        if problem is None:
            return
        self._catalog.close()
        self._catalog = replace_damaged(self._catalog.path, problem, self._notify)
        with self._catalog.transaction() as tx:
            self._catalog.set_meta(tx, library_root=str(self.root))
        self._index.reset(self._catalog)

    # -- search ----------------------------------------------------------------------------------

    def _check_searchable(self) -> None:
        # The in-memory index knows its size; COUNT(*) over the vector table would cost more
        # than the search itself.
        if self.indexed_model is None or len(self._index.get()) == 0:
            offline = self._catalog.offline_count()
            if offline:
                where = (f"their files cannot be found in {self.root} now" if self.reachable
                         else f"the photo folder {self.root} cannot be reached")
                raise LibraryError(
                    f"The {offline:,} indexed photos of this library are offline: {where}. Is a drive disconnected?",
                    hint(Action.RECONNECT),
                )
            raise LibraryError(f"No photo of {self.root} is indexed yet.", hint(Action.INDEX_LIBRARY))
        if self.indexed_model != self.model_name:
            raise LibraryError(
                f"This library was indexed with the model '{self.indexed_model}', not '{self.model_name}'.",
                hint(Action.USE_INDEXED_MODEL, Action.REINDEX, model=self.indexed_model),
            )

    def search_vector(
        self, query: np.ndarray, k: int = 60, filters: SearchFilters | None = None, exclude: tuple[int, ...] = ()
    ) -> list[SearchResult]:
        from .query.search import search_vector

        self._check_searchable()
        return search_vector(
            self._catalog, self._index.get(), self.root, query, k, filters or SearchFilters(), exclude,
            dup_threshold=self.spec.dup_threshold, copy_floor=self.spec.copy_floor,
        )

    def search(self, query: SearchQuery, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Photos most like the query: the weighted sum of its terms (words, image files,
        library photos, pasted pixels; see query/compose.py). Library photos the query names are
        left out of the results."""
        _check_files_exist(query)
        towers = {"text" if t.kind == "text" else "image" for t in query.terms if t.kind != "photo"}
        if towers:  # a library photo's vector is in the catalog: no model needed
            refused = self._weights_refused(self._catalog.get_meta("model_identity"))
            if refused is not None:
                raise refused
        for tower in towers:
            self._prefetch(tower)
        from .query.compose import combine
        from .query.terms import TermVectors

        terms = TermVectors(self._catalog, self.root, self._query_embedder, self.spec.supports_text, self.model_name)
        terms.check(query)
        self._check_searchable()
        vectors, weights, named = terms.vectors(query)
        return self.search_vector(combine(vectors, weights), k, filters, named)

    def search_image(self, path: Path | str, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Photos that look like the image file at ``path`` (inside the library or not)."""
        return self.search(SearchQuery((QueryTerm("file", str(path)),)), k, filters)

    def search_pil(self, image: Image.Image, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Photos that look like an in-memory image (e.g. pasted from the clipboard)."""
        return self.search(SearchQuery((pixels_term(image),)), k, filters)

    def search_photo(self, photo_id: int, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """More like this library photo (which is itself left out)."""
        photo = self._catalog.photo(photo_id)
        term = QueryTerm("photo", photo.rel_path if photo else "", photo_id=photo_id)
        return self.search(SearchQuery((term,)), k, filters)

    def search_text(self, text: str, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        return self.search(SearchQuery((QueryTerm("text", text),)), k, filters)

    def _prefetch(self, tower: str) -> None:
        """Start loading the model's ``tower`` while the query loads the vector index: a
        command's first text query waits for the longer of the two, not for both. Only for a
        library indexed with this model and these weights (otherwise the query fails before it
        needs the model; ``search`` refuses other weights before it gets here)."""
        if self.indexed_model != self.model_name:
            return

        def start() -> None:
            try:
                self._model.get().prepare(tower)
            except Exception:  # noqa: BLE001 - the query loads the model itself and reports why
                log.debug("loading the model ahead failed", exc_info=True)

        threading.Thread(target=start, name="model-ahead", daemon=True).start()

    def _query_embedder(self) -> Embedder:
        """The model for a query, refused unless it is exactly the one the library was
        indexed with (a changed or tampered weights file gives other vectors; a weights file
        given is refused by its hash in ``search``, before the model loads)."""
        indexed = self._catalog.get_meta("model_identity")
        embedder = self._model.get()
        if indexed and embedder.identity != indexed:
            raise _other_weights(indexed, embedder.identity)
        return embedder

    def _weights_refused(self, indexed: str | None) -> ModelError | None:
        """The refusal of a weights file given whose hash is not the one in the ``indexed``
        identity (models/clip.py names the first 16 hex digits of the sha256), told before
        the model loads: loading it would first prepare it for this computer (an ONNX export,
        10 s or more for a real CLIP model, its graphs left in the cache) only to refuse it.
        None where nothing is given, or the file cannot be read (loading the model says why)."""
        if not indexed or self.weights is None or not self.weights.is_file():
            return None
        from .models.graphs import file_sha256

        try:
            given = file_sha256(self.weights, self.dirs.models)[:16]
        except OSError:
            return None
        return None if indexed.endswith(f"/sha256:{given}") else _other_weights(indexed, f"{self.weights}, sha256:{given}")

    # -- browsing and saved searches -------------------------------------------------------------

    def browse(self, filters: SearchFilters | None = None, order: BrowseOrder = "newest") -> np.ndarray:
        """Ids of the photos to show with no query (indexed and still pending), in ``order``;
        read their records a page at a time with :meth:`photos`."""
        return self._catalog.browse_ids(filters or SearchFilters(), order)

    def photos(self, ids: Sequence[int]) -> dict[int, PhotoRecord]:
        return self._catalog.photos(ids)

    def capture_date_range(self) -> tuple[datetime, datetime] | None:
        return self._catalog.capture_date_range()

    def saved_searches(self) -> list[SavedSearch]:
        from .query.saved import decode

        return [decode(*row) for row in self._catalog.saved_searches()]

    def saved_search(self, name: str) -> SavedSearch:
        for saved in self.saved_searches():
            if saved.name == name:
                return saved
        known = ", ".join(s.name for s in self.saved_searches()) or "none yet"
        raise LibraryError(f"There is no saved search named '{name}' (saved: {known}).", hint(Action.CHECK_INPUT))

    def save_search(self, name: str, query: SearchQuery, filters: SearchFilters) -> None:
        """Save (or replace) a search under ``name``; it lives with the library's index."""
        from .query.saved import encode

        name = name.strip()
        if not name:
            raise LibraryError("A saved search needs a name.", hint(Action.CHECK_INPUT))
        self._catalog.save_search(name, encode(query, filters))

    def rename_search(self, old: str, new: str) -> None:
        new = new.strip()
        if not new or not self._catalog.rename_search(old, new):
            raise LibraryError(
                f"The saved search '{old}' cannot be renamed to '{new}' (the name is empty or taken).",
                hint(Action.CHECK_INPUT),
            )

    def delete_search(self, name: str) -> None:
        self._catalog.delete_search(name)

    def export_csv(self, results: Sequence[SearchResult], target: Path) -> None:
        """Results as a CSV (rank, path, absolute path, score, date...)."""
        from .query.export import write_csv

        write_csv(results, Path(target))

    def copy_photos(
        self, photos: Sequence[PhotoRecord], folder: Path, progress: Callable[[int, int], None] | None = None
    ) -> list[Path]:
        """Copy photos into ``folder``, never inside the library; nothing is moved."""
        from .query.export import copy_files

        return copy_files([self.abs_path(p) for p in photos], Path(folder), self.root, progress)

    # -- duplicates and quality ------------------------------------------------------------------

    def duplicate_finder(self, folder: str = "", floor: float | None = None) -> DuplicateFinder:
        """Duplicate groups of the library (or ``folder``) at any threshold from ``floor`` (by
        default the model's calibrated threshold) up. Only reads: nothing is moved or deleted,
        no photo is decoded (copies are told by the signatures taken at index time)."""
        from .duplicates.finder import DuplicateFinder

        self._check_searchable()
        floor = self.spec.dup_threshold if floor is None else floor
        return DuplicateFinder(self._catalog, self.root, floor, folder, self.spec.copy_floor)

    def find_duplicates(
        self,
        threshold: float | None = None,
        folder: str = "",
        cancel: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[DuplicateGroup]:
        """Groups of duplicate photos, each with a suggested keeper and its members in two tiers,
        copies and similar shots (see engine/duplicates/finder.py). ``threshold`` is the cosine
        similarity of similar shots; by default the model's calibrated ``dup_threshold``."""
        finder = self.duplicate_finder(folder, threshold)
        return finder.groups(finder.floor, cancel, progress)

    def evaluate(self, groups_csv: Path | str) -> EvaluationReport:
        """Retrieval quality against known groups of related photos (engine/query/evaluation.py)."""
        from .query.evaluation import evaluate, read_groups

        self._check_searchable()
        groups, unmatched = read_groups(Path(groups_csv), self._catalog)
        return evaluate(self._catalog, groups, unmatched)

    # -- facts -----------------------------------------------------------------------------------

    def photo(self, photo_id: int) -> PhotoRecord | None:
        return self._catalog.photo(photo_id)

    def photo_by_path(self, rel_path: str) -> PhotoRecord | None:
        return self._catalog.photo_by_path(rel_path)

    def abs_path(self, photo: PhotoRecord) -> Path:
        return self.root / photo.rel_path

    def folders(self) -> list[str]:
        return self._catalog.folders()

    def skipped(self) -> list[SkippedFile]:
        return self._catalog.skipped()

    def counts(self) -> dict[str, int]:
        """Photos by state: indexed, pending, skipped (online ones), and offline."""
        return self._catalog.counts()

    def runtime_plan(self) -> RuntimePlan:
        """What runs the model: the loaded model's runtime, or the one it will get (decided
        without loading it)."""
        from .errors import PhotoSearchError
        from .models.runtime import decide, gpu_run_photos

        loaded = self._model.loaded
        if loaded is not None:
            plan = RuntimePlan(loaded.runtime, "running", loaded.device)
        else:
            try:
                plan = decide(
                    self.spec, self.runtime, self.device, self.weights, self.dirs.models, confirm_gpu=False,
                    for_queries=self._gpu_runs,
                ).plan
            except PhotoSearchError as exc:
                return RuntimePlan("none", exc.message)
        if self._gpu_runs:
            return replace(plan, reason=f"{plan.reason}; indexing {gpu_run_photos():,} photos or more: torch on the GPU")
        return plan

    def offline_folders(self) -> list[OfflineFolder]:
        """The offline photos, by top-level folder."""
        return self._catalog.offline_folders()

    def status(self) -> LibraryStatus:
        counts = self._catalog.counts()
        last = self._catalog.get_meta("last_indexed_at")
        return LibraryStatus(
            root=str(self.root),
            data_dir=str(self.data_dir),
            model=self.indexed_model,
            model_identity=self._catalog.get_meta("model_identity"),
            total=sum(counts.values()),
            indexed=counts["indexed"],
            pending=counts["pending"],
            skipped=self._catalog.skipped(),
            last_indexed_at=datetime.fromtimestamp(float(last)) if last else None,
            runtime=self.runtime_plan(),
            offline=counts["offline"],
            offline_folders=tuple(self._catalog.offline_folders()) if counts["offline"] else (),
            reachable=self.reachable,
        )
