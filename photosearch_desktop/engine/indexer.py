"""One index run: scan the folder, record what changed, embed what is pending, keep the
vector index in step. Only what changed is done; the caller holds the library's writer lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from .embed.pipeline import Embedded, ProgressCallback, Skipped, embed_pending, sign_indexed
from .models.base import Embedder
from .models.handle import ModelHandle
from .models.runtime import gpu_run_photos
from .records import IndexReport, PipelineOptions, Progress
from .scan.changes import detect_changes
from .scan.missing import hold_missing
from .scan.scanner import scan_library
from .store.catalog import Catalog
from .store.index_cache import IndexCache

log = logging.getLogger(__name__)


class Indexer:
    def __init__(
        self,
        root: Path,
        catalog: Catalog,
        cache: IndexCache,
        model: ModelHandle,
        notify: Callable[[str], None],
        gpu_model: ModelHandle | None = None,
    ) -> None:
        """``gpu_model``: where a GPU is expected, the model that embeds runs of
        ``gpu_run_photos()`` photos or more (``model`` embeds smaller ones)."""
        self.root = root
        self.catalog = catalog
        self.cache = cache
        self.model = model
        self.notify = notify
        self.gpu_model = gpu_model

    def run(
        self,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        options: PipelineOptions,
        remove_missing: bool = False,
    ) -> IndexReport:
        """``remove_missing``: delete every photo whose file is not found, offline ones too,
        instead of keeping a bulk disappearance offline (engine/scan/missing.py)."""
        catalog, cache = self.catalog, self.cache
        report = IndexReport()
        if catalog.get_meta("model_name") is None:
            # No photo embedded yet, so the catalog names no model: the one asked for is kept,
            # or a run without --model after a first run on an empty folder (or one stopped
            # while the model loaded) would take the default CLIP model (and, offline, fail).
            catalog.choose_model(self.model.name)
        if progress:
            progress(Progress(0, 0, 0.0, None, phase="scanning"))
        damaged = catalog.requeue_damaged_vectors()
        if damaged:
            self.notify(
                f"{len(damaged)} photo(s) had a damaged vector in the catalog (it failed its checksum); "
                "they are embedded again now."
            )
        known = catalog.known_files()
        scan = scan_library(self.root, known=frozenset(known))
        changes = detect_changes(self.root, scan, known)
        hold_missing(changes, known, scan, remove_missing)
        report.added, report.modified = len(changes.new), len(changes.modified)
        report.moved, report.deleted, report.unchanged = len(changes.moved), len(changes.deleted), changes.unchanged
        report.offline, report.returned, report.kept_unreadable = len(changes.offline), len(changes.returned), changes.kept
        report.root_reachable = scan.root_problem is None
        report.scan_problems = scan.problems
        if scan.root_problem:
            log.info("%s", scan.root_problem)
        gone = [m[0] for m in changes.modified] + changes.deleted + changes.offline
        indexed_model = catalog.get_meta("model_name")
        same_model = indexed_model == self.model.name
        # Load the index before the catalog changes, so removals and returns update it instead
        # of invalidating the cache and forcing a rebuild from SQLite.
        if (gone or changes.returned) and same_model:
            cache.get()
        with cache.changing() as index:
            if not changes.empty or scan.problems or catalog.has_scan_problems():
                catalog.apply_changes(
                    changes.new, changes.modified, changes.moved, changes.deleted, scan.problems, changes.retried,
                    offline=changes.offline, online=changes.returned, touched=changes.touched,
                )
            if (gone or changes.returned) and same_model and index is not None:
                index.remove(gone)
                # Offline photos kept their vectors: they come back as they were stored.
                index.add(*catalog.vectors(changes.returned))
                cache.sync()
        report.offline_folders = catalog.offline_folders()

        jobs = catalog.pending()
        # A registry name pins its weights; a weights file may differ from the one indexed,
        # so then the model is loaded to compare identities.
        if not jobs and (indexed_model is None or (same_model and self.model.weights is None)):
            self._sign(report, progress, cancel, options)
            cache.sync()
            cache.save()
            return report

        embedder = self._embedder(len(jobs))
        stored_identity = catalog.get_meta("model_identity")
        if stored_identity is not None and stored_identity != embedder.identity:
            log.warning("model changed from %s to %s: re-embedding everything", stored_identity, embedder.identity)
            catalog.reset_vectors(self.model.name, embedder.identity, embedder.dim)
            report.rebuilt_for_model = self.model.name
            cache.reset(catalog)
            jobs = catalog.pending()
        elif stored_identity is None:
            catalog.set_model(self.model.name, embedder.identity, embedder.dim)
        cache.get()  # loaded before the first commit, which then adds to it

        def store(embedded: list[Embedded], skipped: list[Skipped]) -> None:
            with cache.changing() as index:
                catalog.store_batch(embedded, skipped)
                if embedded and index is not None:
                    cache.add(index, [e[0] for e in embedded], [e[1] for e in embedded])
                cache.sync()

        result = embed_pending(self.root, jobs, embedder, store, progress, cancel, options)
        report.embedded, report.skipped, report.cancelled = result.embedded, result.skipped, result.cancelled
        if not report.cancelled:
            self._sign(report, progress, cancel, options)
        cache.sync()
        cache.save()
        return report

    def _embedder(self, photos: int) -> Embedder:
        """The GPU's model for a large run where there is one, else the CPU's. The GPU only
        speeds the run up: if its model cannot start (out of GPU memory, a driver torch
        refuses), the CPU's embeds the run and the person is told why it is slower."""
        if self.gpu_model is not None and photos >= gpu_run_photos():
            try:
                return self.gpu_model.get()
            except Exception as exc:  # noqa: BLE001 - any failure: the CPU's model does the run
                log.info("the GPU's model did not start", exc_info=True)
                why = (str(exc).strip() or type(exc).__name__).splitlines()[0]
                self.notify(f"The GPU could not run the model ({why}); the CPU indexes these {photos:,} photos instead.")
        return self.model.get()

    def _sign(
        self, report: IndexReport, progress: ProgressCallback | None, cancel: threading.Event | None,
        options: PipelineOptions,
    ) -> None:
        """Photos indexed before pixel signatures were kept get theirs: decoded once more,
        without the model (their vectors stay); a batch per transaction, like embedding."""
        jobs = self.catalog.unsigned()
        if not jobs:
            return
        log.info("taking the pixel signature of %d photos indexed before", len(jobs))
        result = sign_indexed(self.root, jobs, self.catalog.store_signatures, progress, cancel, options)
        report.signed, report.cancelled = result.signed, result.cancelled
