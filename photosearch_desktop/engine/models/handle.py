"""One model for one library: loaded once, on first use, from whichever thread asks first."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelStopped
from ..system.memory import release_free_memory
from .base import Embedder

if TYPE_CHECKING:
    from .factory import PreparationCallback


class ModelHandle:
    """Loads the model lazily under a lock, so concurrent callers (indexing, queries, warm-up)
    share one load; a model whose process died is loaded again on the next call.

    ``own_process``: run the model in a process of its own (the window does, so that torch
    never holds its interpreter; the command line keeps it in-process). ``runtime``: "auto",
    "onnx" or "torch" (models/runtime.py); ``preparing`` hears of a one-time export.
    ``force_download``: the first load downloads the weights anew (the person asked for it),
    later ones do not. ``for_queries``: the model embeds queries only (models/runtime.py).
    """

    def __init__(
        self, name: str, device: str | None, weights: Path | None, cache_dir: Path, own_process: bool = False,
        runtime: str | None = None, preparing: PreparationCallback | None = None, force_download: bool = False,
        for_queries: bool = False,
    ) -> None:
        self.name = name
        self.device = device
        self.weights = weights
        self.cache_dir = cache_dir
        self.own_process = own_process
        self.runtime = runtime
        self.preparing = preparing
        self.force_download = force_download
        self.for_queries = for_queries
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()  # held through a load
        self._state = threading.Lock()  # guards the two below, never held long
        self._loading = False
        self._close_on_arrival = False

    def get(self) -> Embedder:
        """The model (slow the first time: imports torch, maybe downloads). ModelStopped if
        the handle was closed while this call loaded it."""
        with self._lock:
            if self._embedder is not None and not self._embedder.alive:
                self._embedder.close()  # its process died; a new one starts below
                self._embedder = None
            if self._embedder is None:
                with self._state:
                    self._loading = True
                try:
                    embedder = self._load()
                finally:
                    with self._state:
                        self._loading, closed, self._close_on_arrival = False, self._close_on_arrival, False
                if closed:
                    embedder.close()
                    raise ModelStopped("The model was closed while it loaded.")
                self._embedder = embedder
                self.force_download = False
            return self._embedder

    @property
    def loaded(self) -> Embedder | None:
        """The model if it is loaded now (never loads it)."""
        return self._embedder

    def _load(self) -> Embedder:
        if self.own_process:
            from .process import ModelProcess

            return ModelProcess(
                self.name, device=self.device, weights=self.weights, cache_dir=self.cache_dir, runtime=self.runtime,
                preparing=self.preparing, force_download=self.force_download, for_queries=self.for_queries,
            )
        from .factory import create_embedder

        embedder = create_embedder(
            self.name, device=self.device, weights=self.weights, cache_dir=self.cache_dir, runtime=self.runtime,
            preparing=self.preparing, force_download=self.force_download, for_queries=self.for_queries,
        )
        release_free_memory()  # the loader's freed temporaries
        return embedder

    def close(self) -> None:
        """Close the model. A load in progress is not waited for: what it loads is closed as it
        arrives. A command whose query failed (a query photo that is no image) waited here for
        the whole load that its query no longer needed (a first export: half a minute)."""
        with self._state:
            if self._loading:
                self._close_on_arrival = True
                return
        with self._lock:
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None
