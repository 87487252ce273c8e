"""How the indexing pipeline cuts photos into model batches."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosearch_desktop.engine.embed.pipeline import embed_pending
from photosearch_desktop.engine.models.base import Embedder
from photosearch_desktop.engine.models.preprocess import EfficientNetPreprocess
from photosearch_desktop.engine.records import PipelineOptions


class _CountingEmbedder(Embedder):
    name = identity = "counting"
    dim = 4
    input_size = 8
    preprocessor = EfficientNetPreprocess(8)

    def __init__(self) -> None:
        self.batches: list[int] = []
        self._lock = threading.Lock()

    def set_threads(self, n: int) -> int:
        return n

    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.batches.append(len(batch))
        return np.tile(np.eye(1, self.dim, dtype=np.float32), (len(batch), 1))


def _photos(root: Path, count: int, broken: int = 0) -> list[tuple[int, str]]:
    jobs = []
    for n in range(count):
        name = f"p{n:03d}.png"
        if n < broken:
            (root / name).write_bytes(b"not a picture")
        else:
            Image.new("RGB", (16, 12), (n, 2 * n, 3 * n)).save(root / name)
        jobs.append((n + 1, name))
    return jobs


@pytest.mark.parametrize(
    ("count", "broken", "streams", "expected"),
    [
        (10, 0, 2, [4, 3, 2, 1]),  # the last photos shared out: both streams end together
        (16, 0, 2, [4, 4, 4, 2, 1, 1]),
        (9, 0, 1, [4, 4, 1]),  # one stream: full batches, as before
        (10, 3, 2, [4, 2, 1]),  # skipped photos count out of what is left
    ],
)
def test_full_batches_then_the_last_photos_shared_between_streams(
    tmp_path: Path, count: int, broken: int, streams: int, expected: list[int]
) -> None:
    embedder = _CountingEmbedder()
    stored: list[int] = []
    result = embed_pending(
        tmp_path,
        _photos(tmp_path, count, broken),
        embedder,
        lambda embedded, skipped: stored.extend(e[0] for e in embedded),
        options=PipelineOptions(batch_size=4, model_workers=streams, decode_workers=1),
    )
    assert sorted(embedder.batches, reverse=True) == expected
    assert result.embedded == count - broken and result.skipped == broken
    assert sorted(stored) == list(range(broken + 1, count + 1))
