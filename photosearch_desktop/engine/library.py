"""One photo library: the single entry point the command line and the window use.

Opening a library is cheap (no model, no vectors); the model and the vector index are
loaded on first use, or ahead of time with :meth:`Library.warm_up` from a background thread.
Every method may be called from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from .catalog import VECTOR_DTYPE, Catalog, CatalogDamaged
from .changes import detect_changes
from .duplicates import DuplicateGroup, find_duplicates
from .evaluation import EvaluationReport, evaluate, read_groups
from .lock import WriterLock
from .memory import release_free_memory
from .models import DEFAULT_MODEL, Embedder, ModelError, create_embedder, get_spec
from .paths import app_dirs
from .pipeline import Embedded, PipelineOptions, ProgressCallback, Skipped, embed_pending
from .records import (
    IndexReport,
    LibraryStatus,
    PhotoRecord,
    Progress,
    SearchFilters,
    SearchResult,
    SkippedFile,
)
from .scanner import scan_library
from .search import search_vector
from .vector_index import IndexStamp, VectorIndex

log = logging.getLogger(__name__)


class LibraryError(RuntimeError):
    """A library operation cannot go ahead; the message tells the user what to do."""


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
    ) -> None:
        """``model_process``: run the model in a separate process (the window does, so that
        torch never holds its interpreter; the command line keeps it in-process)."""
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise LibraryError(f"The photo folder {self.root} does not exist or is not a folder.")
        self.dirs = app_dirs(data_dir)
        self.data_dir = self.dirs.library_dir(self.root)
        # What the user should be told once, e.g. that a damaged catalog was replaced.
        self.notices: list[str] = []
        self.catalog = self._open_catalog(readonly)
        self.readonly = readonly
        if not readonly and self.catalog.get_meta("library_root") != str(self.root):
            # Written only when it changes: opening then writes nothing, so searching still
            # works when the disk is full.
            with self.catalog.transaction() as tx:
                self.catalog.set_meta(tx, library_root=str(self.root))
        self.indexed_model = self.catalog.get_meta("model_name")
        self.model_name = model or self.indexed_model or DEFAULT_MODEL
        self.spec = get_spec(self.model_name)
        self.device = device
        self.weights = Path(weights).expanduser() if weights else None
        self.model_process = model_process
        self._embedder: Embedder | None = None
        self._index: VectorIndex | None = None
        self._index_generation = -1
        self._model_lock = threading.Lock()
        self._index_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def _open_catalog(self, readonly: bool) -> Catalog:
        """Open the catalog; a damaged one is moved aside and a new one started.

        The photos are the source of truth, so indexing again recovers everything (only the
        time to embed is lost). Read-only, or while another process writes the library
        (LibraryBusy), the damage is reported instead.
        """
        path = self.data_dir / "catalog.sqlite"
        try:
            return Catalog(path, readonly=readonly)
        except CatalogDamaged as exc:
            if readonly:
                raise
            damage = str(exc)
        with WriterLock(self.data_dir / "writer.lock"):
            try:
                return Catalog(path)  # another process may have replaced it meanwhile
            except CatalogDamaged:
                return self._start_new_catalog(path, damage)

    def _start_new_catalog(self, path: Path, damage: str) -> Catalog:
        """Move the damaged catalog aside and start an empty one; the caller holds the writer lock."""
        try:
            aside = Catalog.move_aside(path)
        except OSError as exc:  # e.g. another window still has it open on Windows
            raise CatalogDamaged(
                f"The catalog {path} is damaged ({damage}) and could not be moved aside ({exc.strerror or exc}). "
                "Close every other PhotoSearch window, then try again."
            ) from exc
        # The vector cache belongs to the old catalog (its photo ids): never reuse it.
        for cache in path.parent.glob("vectors.*"):
            cache.unlink(missing_ok=True)
        notice = (
            f"The catalog of this library was damaged ({damage}). It was moved aside to {aside.name} "
            "and a new one was started: indexing the folder rebuilds it from your photos, which were "
            "not touched."
        )
        self._notify(notice)
        return Catalog(path)

    def _notify(self, notice: str) -> None:
        # Logged at INFO: the user hears of it from ``notices`` (the CLI prints them, the
        # window shows them), and a WARNING would print it a second time in the terminal.
        log.info("%s", notice)
        if notice not in self.notices:
            self.notices.append(notice)

    def close(self) -> None:
        with self._model_lock:
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embedder(self) -> Embedder:
        """The model, loaded once (slow the first time: imports torch, maybe downloads)."""
        with self._model_lock:
            if self._embedder is not None and not self._embedder.alive:
                self._embedder.close()  # its process died; the next lines start a new one
                self._embedder = None
            if self._embedder is None:
                self._embedder = self._load_model()
            return self._embedder

    def _load_model(self) -> Embedder:
        if self.model_process:
            from .models.process import ModelProcess

            return ModelProcess(self.model_name, device=self.device, weights=self.weights, cache_dir=self.dirs.models)
        embedder = create_embedder(self.model_name, device=self.device, weights=self.weights, cache_dir=self.dirs.models)
        release_free_memory()  # the loader's freed temporaries
        return embedder

    def warm_up(self) -> None:
        """Load the model and the vector index now, so the first query does not wait."""
        self.embedder()
        if self.indexed_model:
            self._vector_index()

    # -- indexing ----------------------------------------------------------------------------

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        options: PipelineOptions | None = None,
    ) -> IndexReport:
        """Bring the index up to date with the folder: only what changed is done."""
        if self.readonly:
            raise LibraryError("This library is open read-only.")
        started = time.perf_counter()
        with WriterLock(self.data_dir / "writer.lock"):
            report = self._index_locked(progress, cancel, options or PipelineOptions())
        report.seconds = time.perf_counter() - started
        return report

    def _index_locked(
        self, progress: ProgressCallback | None, cancel: threading.Event | None, options: PipelineOptions
    ) -> IndexReport:
        report = IndexReport()
        if progress:
            progress(Progress(0, 0, 0.0, None, phase="scanning"))
        problem = self.catalog.integrity_problem()  # reads every page: here, not on open
        if problem is not None:
            self.catalog.close()
            self.catalog = self._start_new_catalog(self.catalog.path, problem)
            with self.catalog.transaction() as tx:
                self.catalog.set_meta(tx, library_root=str(self.root))
            self.indexed_model, self._index, self._index_generation = None, None, -1
        damaged = self.catalog.requeue_damaged_vectors()
        if damaged:
            self._notify(
                f"{len(damaged)} photo(s) had a damaged vector in the catalog (it failed its checksum); "
                "they are embedded again now."
            )
        known = self.catalog.known_files()
        scan = scan_library(self.root, known=frozenset(known))
        changes = detect_changes(self.root, scan, known)
        report.added, report.modified = len(changes.new), len(changes.modified)
        report.moved, report.deleted, report.unchanged = len(changes.moved), len(changes.deleted), changes.unchanged
        report.scan_problems = scan.problems
        gone = [m[0] for m in changes.modified] + changes.deleted
        same_model = self.indexed_model == self.model_name
        # Load the index before the catalog changes, so removals update it instead of
        # invalidating the cache and forcing a rebuild from SQLite.
        index = self._vector_index() if gone and same_model else None
        with self._index_lock:  # catalog and index change together (see store() below)
            if not changes.empty or scan.problems or self.catalog.has_scan_problems():
                self.catalog.apply_changes(
                    changes.new, changes.modified, changes.moved, changes.deleted, scan.problems, changes.retried
                )
            if index is not None and self._index is not None:
                self._index.remove(gone)
                self._index_generation = self.catalog.generation

        jobs = self.catalog.pending()
        # A registry name pins its weights; an explicit weights file may differ from the
        # one indexed, so then the model is loaded to compare identities.
        if not jobs and (self.indexed_model is None or (same_model and self.weights is None)):
            self._sync_index_generation()
            self._save_index()
            return report

        embedder = self.embedder()
        stored_identity = self.catalog.get_meta("model_identity")
        if stored_identity is not None and stored_identity != embedder.identity:
            log.warning("model changed from %s to %s: re-embedding everything", stored_identity, embedder.identity)
            self.catalog.reset_vectors(self.model_name, embedder.identity, embedder.dim)
            report.rebuilt_for_model = self.model_name
            self._index = None
            jobs = self.catalog.pending()
        elif stored_identity is None:
            self.catalog.set_model(self.model_name, embedder.identity, embedder.dim)
        self.indexed_model = self.model_name
        self._vector_index()  # loaded before the first commit, which then adds to it

        def store(embedded: list[Embedded], skipped: list[Skipped]) -> None:
            # Catalog and index change under one lock, so a search in another thread never
            # sees a catalog newer than the index (which would make it reload the index).
            with self._index_lock:
                self.catalog.store_batch(embedded, skipped)
                if embedded and self._index is not None:
                    ids = np.fromiter((e[0] for e in embedded), dtype=np.int64, count=len(embedded))
                    # The index holds exactly what SQLite holds (float16): a rebuild changes nothing.
                    vectors = np.stack([e[1] for e in embedded]).astype(VECTOR_DTYPE).astype(np.float32)
                    self._index.add(ids, vectors)
                self._index_generation = self.catalog.generation

        result = embed_pending(self.root, jobs, embedder, store, progress, cancel, options)
        report.embedded, report.skipped, report.cancelled = result.embedded, result.skipped, result.cancelled
        self._sync_index_generation()
        self._save_index()
        return report

    # -- the vector index --------------------------------------------------------------------

    def _stamp(self) -> IndexStamp:
        return IndexStamp(
            generation=self.catalog.generation,
            identity=f"{self.catalog.catalog_id}/{self.catalog.get_meta('model_identity') or ''}",
            count=0,  # the index fills it in at save; COUNT(*) would cost a second at 1M
            dim=int(self.catalog.get_meta("dim") or 0),
        )

    @property
    def _index_path(self) -> Path:
        return self.data_dir / "vectors.faiss"

    def _vector_index(self) -> VectorIndex:
        """The in-memory index, reloaded when another process changed the catalog."""
        with self._index_lock:
            generation = self.catalog.generation
            if self._index is not None and self._index_generation == generation:
                return self._index
            stamp = self._stamp()
            index = VectorIndex.load(self._index_path, stamp, self._exact_vectors)
            if index is None:
                log.info("building the vector index from the catalog (generation %d)", stamp.generation)
                index = VectorIndex(stamp.dim or 1, self._exact_vectors)
                for ids, vectors in self.catalog.iter_vectors():
                    index.add(ids, vectors)
                if index.ann_due():
                    index.build_ann()
                if self.catalog.damaged_vector_ids:
                    self._notify(
                        f"{len(self.catalog.damaged_vector_ids)} photo(s) have a damaged vector in the catalog "
                        "(it failed its checksum) and are left out of searches until the index is updated."
                    )
                self._index, self._index_generation = index, stamp.generation
                self._save_index()
                release_free_memory()
                return index
            self._index, self._index_generation = index, stamp.generation
            if index.compact():  # a cache saved by an earlier version, with a float16 store
                self._save_index()
            release_free_memory()
            return index

    def _exact_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The catalog's vectors for the index's final, exact scoring (see vector_index.py)."""
        return self.catalog.vectors(ids.tolist())

    def _sync_index_generation(self) -> None:
        if self._index is not None:
            self._index_generation = self.catalog.generation

    def _save_index(self) -> None:
        if self._index is None or self.readonly:
            return
        if self._index.ann_due():
            self._index.build_ann()
        try:
            self._index.save(self._index_path, self._stamp())
        except OSError as exc:
            # The cache is optional: the next start rebuilds it from the catalog.
            log.warning("could not save the vector cache %s: %s", self._index_path, exc)

    # -- search ------------------------------------------------------------------------------

    def _check_searchable(self) -> None:
        # The in-memory index knows its size; COUNT(*) over the vector table would cost more
        # than the search itself.
        if self.indexed_model is None or len(self._vector_index()) == 0:
            raise LibraryError(f"No photo of {self.root} is indexed yet. Index the folder first.")
        if self.indexed_model != self.model_name:
            raise LibraryError(
                f"This library was indexed with the model '{self.indexed_model}', not '{self.model_name}'. "
                f"Search with --model {self.indexed_model}, or re-index with --model {self.model_name} "
                "(a full rebuild)."
            )

    def search_vector(
        self, query: np.ndarray, k: int = 60, filters: SearchFilters | None = None, exclude: tuple[int, ...] = ()
    ) -> list[SearchResult]:
        self._check_searchable()
        return search_vector(
            self.catalog, self._vector_index(), self.root, query, k, filters or SearchFilters(), exclude,
            dup_threshold=self.spec.dup_threshold,
        )

    def search_image(self, path: Path | str, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Photos that look like the image file at ``path`` (inside the library or not)."""
        from .loader import load_image

        self._check_searchable()
        path = Path(path).expanduser().resolve()
        embedder = self._query_embedder()
        image = load_image(path, min_side=embedder.input_size).image
        exclude: tuple[int, ...] = ()
        if path.is_relative_to(self.root):
            own = self.catalog.photo_by_path(path.relative_to(self.root).as_posix())
            exclude = (own.id,) if own else ()
        return self.search_vector(embedder.encode_images([image])[0], k, filters, exclude)

    def search_pil(self, image: Image.Image, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Photos that look like an in-memory image (e.g. pasted from the clipboard)."""
        self._check_searchable()
        embedder = self._query_embedder()
        return self.search_vector(embedder.encode_images([image.convert("RGB")])[0], k, filters)

    def search_photo(self, photo_id: int, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """More like this library photo (which is itself left out)."""
        self._check_searchable()
        ids, vectors = self.catalog.vectors([photo_id])
        if len(ids) == 0:
            raise LibraryError("That photo is not in the index (it may have been moved or skipped).")
        return self.search_vector(vectors[0], k, filters, (photo_id,))

    def search_text(self, text: str, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        self._check_searchable()
        if not self.spec.supports_text:
            raise ModelError(
                f"The model '{self.model_name}' understands images only, so it cannot search by text. "
                "Re-index with a CLIP model (for example clip-vit-b-32) to search with words."
            )
        return self.search_vector(self._query_embedder().encode_text([text])[0], k, filters)

    def _query_embedder(self) -> Embedder:
        """The model for a query, refused unless it is exactly the one the library was
        indexed with (a changed or tampered ``--weights`` file gives other vectors)."""
        embedder = self.embedder()
        indexed = self.catalog.get_meta("model_identity")
        if indexed and embedder.identity != indexed:
            raise ModelError(
                f"This library was indexed with other weights ({indexed}) than the ones loaded now "
                f"({embedder.identity}), and their vectors cannot be compared. Search with the weights "
                "file the library was indexed with, or index the folder again with this one (a full rebuild)."
            )
        return embedder

    def find_duplicates(
        self,
        threshold: float | None = None,
        folder: str = "",
        cancel: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[DuplicateGroup]:
        """Groups of near-duplicate photos, each with a suggested keeper and labelled members
        (see engine/duplicates.py). ``threshold`` is a cosine similarity; by default the
        model's calibrated ``dup_threshold``. Only reads: nothing is moved or deleted."""
        self._check_searchable()
        threshold = self.spec.dup_threshold if threshold is None else threshold
        return find_duplicates(self.catalog, self.root, threshold, folder, cancel, progress)

    def evaluate(self, groups_csv: Path | str) -> EvaluationReport:
        """Retrieval quality against known groups of related photos (engine/evaluation.py)."""
        self._check_searchable()
        groups, unmatched = read_groups(Path(groups_csv), self.catalog)
        return evaluate(self.catalog, groups, unmatched)

    # -- facts for the UI --------------------------------------------------------------------

    def photo(self, photo_id: int) -> PhotoRecord | None:
        return self.catalog.photo(photo_id)

    def abs_path(self, photo: PhotoRecord) -> Path:
        return self.root / photo.rel_path

    def folders(self) -> list[str]:
        return self.catalog.folders()

    def skipped(self) -> list[SkippedFile]:
        return self.catalog.skipped()

    def status(self) -> LibraryStatus:
        counts = self.catalog.counts()
        last = self.catalog.get_meta("last_indexed_at")
        return LibraryStatus(
            root=str(self.root),
            data_dir=str(self.data_dir),
            model=self.indexed_model,
            model_identity=self.catalog.get_meta("model_identity"),
            total=sum(counts.values()),
            indexed=counts["indexed"],
            pending=counts["pending"],
            skipped=self.catalog.skipped(),
            last_indexed_at=datetime.fromtimestamp(float(last)) if last else None,
        )
