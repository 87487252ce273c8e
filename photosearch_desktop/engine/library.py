"""One photo library: the single entry point the command line and the window use.

Opening a library is cheap (no model, no vectors); the model and the vector index are
loaded on first use, or ahead of time with :meth:`Library.warm_up` from a background thread.
Every method may be called from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from .catalog import Catalog
from .changes import detect_changes
from .lock import WriterLock
from .models import DEFAULT_MODEL, Embedder, ModelError, create_embedder, get_spec
from .paths import app_dirs
from .pipeline import PipelineOptions, ProgressCallback, embed_pending
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
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise LibraryError(f"The photo folder {self.root} does not exist or is not a folder.")
        self.dirs = app_dirs(data_dir)
        self.data_dir = self.dirs.library_dir(self.root)
        self.catalog = Catalog(self.data_dir / "catalog.sqlite", readonly=readonly)
        self.readonly = readonly
        if not readonly:
            with self.catalog.transaction() as tx:
                self.catalog.set_meta(tx, library_root=str(self.root))
        self.indexed_model = self.catalog.get_meta("model_name")
        self.model_name = model or self.indexed_model or DEFAULT_MODEL
        self.spec = get_spec(self.model_name)
        self.device = device
        self.weights = Path(weights).expanduser() if weights else None
        self._embedder: Embedder | None = None
        self._index: VectorIndex | None = None
        self._index_generation = -1
        self._model_lock = threading.Lock()
        self._index_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embedder(self) -> Embedder:
        """The model, loaded once (slow the first time: imports torch, maybe downloads)."""
        with self._model_lock:
            if self._embedder is None:
                self._embedder = create_embedder(
                    self.model_name, device=self.device, weights=self.weights, cache_dir=self.dirs.models
                )
            return self._embedder

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
        if not changes.empty or scan.problems or self.catalog.has_scan_problems():
            self.catalog.apply_changes(changes.new, changes.modified, changes.moved, changes.deleted, scan.problems)
        if index is not None:
            index.remove(gone)
            self._sync_index_generation()

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
        index = self._vector_index()

        def committed(ids: np.ndarray, vectors: np.ndarray) -> None:
            index.add(ids, vectors)
            self._index_generation = self.catalog.generation

        result = embed_pending(self.catalog, self.root, jobs, embedder, committed, progress, cancel, options)
        report.embedded, report.skipped, report.cancelled = result.embedded, result.skipped, result.cancelled
        self._sync_index_generation()
        self._save_index()
        return report

    # -- the vector index --------------------------------------------------------------------

    def _stamp(self) -> IndexStamp:
        return IndexStamp(
            generation=self.catalog.generation,
            identity=self.catalog.get_meta("model_identity") or "",
            count=self.catalog.vector_count(),
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
            index = VectorIndex.load(self._index_path, stamp)
            if index is None:
                log.info("building the vector index from the catalog (%d vectors)", stamp.count)
                ids, vectors = self.catalog.vectors()
                index = VectorIndex(stamp.dim or (vectors.shape[1] if len(vectors) else 1))
                index.add(ids, vectors)
            self._index, self._index_generation = index, stamp.generation
            return index

    def _sync_index_generation(self) -> None:
        if self._index is not None:
            self._index_generation = self.catalog.generation

    def _save_index(self) -> None:
        if self._index is None:
            return
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
            self.catalog, self._vector_index(), self.root, query, k, filters or SearchFilters(), exclude
        )

    def search_image(self, path: Path | str, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Photos that look like the image file at ``path`` (inside the library or not)."""
        from .loader import load_image

        self._check_searchable()
        path = Path(path).expanduser().resolve()
        embedder = self.embedder()
        image = load_image(path, min_side=embedder.input_size).image
        exclude: tuple[int, ...] = ()
        if path.is_relative_to(self.root):
            own = self.catalog.photo_by_path(path.relative_to(self.root).as_posix())
            exclude = (own.id,) if own else ()
        return self.search_vector(embedder.encode_images([image])[0], k, filters, exclude)

    def search_pil(self, image: Image.Image, k: int = 60, filters: SearchFilters | None = None) -> list[SearchResult]:
        """Photos that look like an in-memory image (e.g. pasted from the clipboard)."""
        self._check_searchable()
        embedder = self.embedder()
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
        return self.search_vector(self.embedder().encode_text([text])[0], k, filters)

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
