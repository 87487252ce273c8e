"""One model for one library: loaded once, on first use, from whichever thread asks first."""

from __future__ import annotations

import threading
from pathlib import Path

from ..system.memory import release_free_memory
from .base import Embedder


class ModelHandle:
    """Loads the model lazily under a lock, so concurrent callers (indexing, queries, warm-up)
    share one load; a model whose process died is loaded again on the next call.

    ``own_process``: run the model in a process of its own (the window does, so that torch
    never holds its interpreter; the command line keeps it in-process). ``force_download``: the
    first load downloads the weights anew (the person asked for it), later ones do not.
    """

    def __init__(
        self, name: str, device: str | None, weights: Path | None, cache_dir: Path, own_process: bool = False,
        force_download: bool = False,
    ) -> None:
        self.name = name
        self.device = device
        self.weights = weights
        self.cache_dir = cache_dir
        self.own_process = own_process
        self.force_download = force_download
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    def get(self) -> Embedder:
        """The model (slow the first time: imports torch, maybe downloads)."""
        with self._lock:
            if self._embedder is not None and not self._embedder.alive:
                self._embedder.close()  # its process died; a new one starts below
                self._embedder = None
            if self._embedder is None:
                self._embedder = self._load()
                self.force_download = False
            return self._embedder

    def _load(self) -> Embedder:
        if self.own_process:
            from .process import ModelProcess

            return ModelProcess(self.name, device=self.device, weights=self.weights, cache_dir=self.cache_dir,
                                force_download=self.force_download)
        from .factory import create_embedder

        embedder = create_embedder(self.name, device=self.device, weights=self.weights, cache_dir=self.cache_dir,
                                   force_download=self.force_download)
        release_free_memory()  # the loader's freed temporaries
        return embedder

    def close(self) -> None:
        with self._lock:
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None
