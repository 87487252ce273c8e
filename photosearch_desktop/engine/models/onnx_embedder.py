"""A model's towers run by ONNX Runtime on the CPU: no torch in the process.

Importing torch and open_clip cost 3.6 s and 0.88 GB before the first query (2 cores, issue
14); ONNX Runtime and one tower cost a fraction of that (scripts/bench_onnx.py). Each tower is its own graph, loaded on first use: a text query
loads only the text tower, indexing and photo queries only the image tower. The graphs come
from graphs.py (exported and checked by onnx_export.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import Embedder, l2_normalise
from .graphs import IMAGE_GRAPH, TEXT_GRAPH, GraphSet
from .preprocess import ClipPreprocess, EfficientNetPreprocess

if TYPE_CHECKING:
    import onnxruntime

    from .tokenizer import ClipTokenizer

log = logging.getLogger(__name__)

CORES = os.cpu_count() or 1


def session_options(threads: int) -> onnxruntime.SessionOptions:
    """How every graph is run. The graphs on disk are already optimised (onnx_export.py), so
    loading skips the optimiser: ViT-B/32's image tower loads in 0.7 s instead of 2.1 s, its
    weights memory-mapped from the external data file (RSS 407 MB instead of 620 MB). Idle
    worker threads sleep instead of spinning: the indexing pipeline's decode threads need the
    cores between two runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def load_session(path: Path, threads: int = CORES) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])


def preprocessor_of(graphs: GraphSet) -> ClipPreprocess | EfficientNetPreprocess:
    p = graphs.preprocess
    if p["kind"] == "clip":
        return ClipPreprocess(int(p["size"]), tuple(p["mean"]), tuple(p["std"]))
    return EfficientNetPreprocess(int(p["size"]))


class OnnxEmbedder(Embedder):
    """The graphs of ``graphs`` on ONNX Runtime's CPU execution provider."""

    runtime = "onnx"

    def __init__(self, graphs: GraphSet, name: str | None = None, threads: int = CORES) -> None:
        self.graphs = graphs
        self.name = name or graphs.name  # the name it was asked for (a config file's path, say)
        self.identity = graphs.identity
        self.dim = graphs.dim
        self.input_size = graphs.input_size
        self.supports_text = graphs.supports_text
        self.device = "cpu"
        self.preprocessor = preprocessor_of(graphs)
        self._sessions: dict[str, tuple[int, onnxruntime.InferenceSession]] = {}  # graph: (threads, session)
        self._tokenizer: ClipTokenizer | None = None
        self._load_lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        self._threads = threads

    def _session(self, graph: str) -> onnxruntime.InferenceSession:
        threads = self._threads
        loaded = self._sessions.get(graph)
        if loaded is not None and loaded[0] == threads:
            return loaded[1]
        with self._load_lock:
            loaded = self._sessions.get(graph)
            if loaded is None or loaded[0] != threads:
                loaded = self._sessions[graph] = (threads, self._load(graph, threads))
        return loaded[1]

    def _load(self, graph: str, threads: int) -> onnxruntime.InferenceSession:
        started = time.perf_counter()
        session = load_session(self.graphs.folder / graph, threads)
        log.info("loaded %s of %s (%d threads) in %.2f s", graph, self.identity, threads, time.perf_counter() - started)
        return session

    def prepare(self, tower: str) -> None:
        """Start loading ``tower`` ("text" or "image") in the background and return at once.
        Loading a tower's graph runs outside the GIL, so it overlaps with whatever the caller
        does meanwhile (a query loads the vector index; an image query decodes its photo)."""
        if tower == "text" and self.supports_text:
            threading.Thread(target=self._quietly, args=(self._text_tokenizer,), name="tokenizer", daemon=True).start()
            threading.Thread(target=self._quietly, args=(self._session, TEXT_GRAPH), name="load-text", daemon=True).start()
        elif tower == "image":
            threading.Thread(target=self._quietly, args=(self._session, IMAGE_GRAPH), name="load-image", daemon=True).start()

    @staticmethod
    def _quietly(load: Callable[..., object], *args: object) -> None:
        try:
            load(*args)
        except Exception:  # noqa: BLE001 - the call that needs it loads it again and reports why
            log.debug("loading ahead failed", exc_info=True)

    def warm_up(self) -> None:
        """Load every tower now (text first: the window's first query is most often words)."""
        if self.supports_text:
            self._text_tokenizer()
            self._session(TEXT_GRAPH)
        self._session(IMAGE_GRAPH)

    def set_threads(self, n: int) -> int:
        """Run with ``n`` intra-op threads from now on. A session keeps the thread pool it was
        made with, so a tower loaded with another count is loaded again on its next use (0.7 s
        for ViT-B/32): indexing runs one single-threaded stream per core, which beat one stream
        on every core (2 cores, loaded machine: efficientnet-lite2 12.4 against 10.7 photos/s,
        ViT-B/32 4.9 against 5.0), and a query alone uses every core."""
        old, self._threads = self._threads, max(1, n)
        return old

    def _run(self, graph: str, feed: Any) -> np.ndarray:
        session = self._session(graph)
        out = session.run(None, {session.get_inputs()[0].name: feed})[0]
        return l2_normalise(out)

    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._run(IMAGE_GRAPH, batch)

    def _text_tokenizer(self) -> ClipTokenizer:
        with self._tokenizer_lock:
            if self._tokenizer is None:
                from .tokenizer import ClipTokenizer

                text = self.graphs.text
                assert text is not None
                self._tokenizer = ClipTokenizer(
                    self.graphs.folder / text["vocab"], int(text["context_length"]), str(text["clean"])
                )
            return self._tokenizer

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not self.supports_text:
            return super().encode_text(texts)
        return self._run(TEXT_GRAPH, self._text_tokenizer()(list(texts)))
