"""The CUDA path (torch with float16 autocast) on a computer with an NVIDIA GPU; skipped
elsewhere (CI has no GPU). The automatic choice runs a large index run there and queries on
the CPU; the GPU's vectors point the way the CPU's float32 ones do, so the two find the same
photos. Figures: scripts/bench_cuda.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from libgen import LAYOUT, make_library, near_copy, picture
from PIL import Image
from shareddata import SHARED

from photosearch_desktop.engine import indexer
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.models import runtime
from photosearch_desktop.engine.models.factory import create_embedder
from photosearch_desktop.engine.models.handle import ModelHandle


def _cuda() -> bool:
    if runtime.gpu_expected() != "cuda":  # decided without importing torch: CI pays nothing here
        return False
    import torch

    return torch.cuda.is_available()


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _cuda(), reason="needs an NVIDIA GPU and a CUDA build of torch")]

# float16 activations, float32 everywhere else: measured on an H200 (bench_cuda.py), the
# lowest cosine to the CPU's vectors was far above this bar on every model and photo.
SAME_DIRECTION = 0.999


def _photos() -> list[Image.Image]:
    real = sorted((SHARED / "data" / "ukbench-dev" / "images").glob("*.jpg"))[:16]
    return [Image.open(p).convert("RGB") for p in real] or [picture(seed) for seed in range(16)]


def test_efficientnet_runs_on_the_gpu_and_gives_the_cpus_vectors(tmp_path: Path) -> None:
    gpu = create_embedder("efficientnet-lite2", cache_dir=tmp_path)
    assert (gpu.runtime, gpu.device) == ("torch", "cuda"), "the automatic choice"
    cpu = create_embedder("efficientnet-lite2", device="cpu", runtime="torch")
    got, expected = gpu.encode_images(_photos()), cpu.encode_images(_photos())
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert np.sum(got * expected, axis=1).min() >= SAME_DIRECTION


def test_clip_towers_on_the_gpu_give_the_cpus_vectors(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    _name, weights, config = tiny_clip
    model = f"clip:{config}"
    gpu = create_embedder(model, weights=weights, cache_dir=tmp_path)
    cpu = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, runtime="torch")
    assert (gpu.runtime, gpu.device) == ("torch", "cuda")
    texts = ["a red square", "Two children playing in the snow", ""]
    for got, expected in ((gpu.encode_images(_photos()), cpu.encode_images(_photos())),
                          (gpu.encode_text(texts), cpu.encode_text(texts))):
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.sum(got * expected, axis=1).min() >= SAME_DIRECTION


def test_a_large_run_indexes_on_the_gpu_and_its_queries_run_on_the_cpu(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "gpu_run_photos", lambda: 10)  # "large": the library's 24 photos
    monkeypatch.setattr(indexer, "gpu_run_photos", lambda: 10)
    ran: list[tuple[str, str]] = []
    real_get = ModelHandle.get

    def get(self: ModelHandle):  # type: ignore[no-untyped-def]
        embedder = real_get(self)
        ran.append((embedder.runtime, embedder.device))
        return embedder

    monkeypatch.setattr(ModelHandle, "get", get)
    root = make_library(tmp_path / "Pictures")
    queries = {}
    for rel, seed, _taken in LAYOUT[::4]:  # a copy of a library photo, not in the library
        queries[rel] = tmp_path / f"query-{seed}.jpg"
        near_copy(picture(seed)).save(queries[rel])
    with Library(root, model="efficientnet-lite2") as lib:
        words = lib.runtime_plan().words
        assert words.startswith("ONNX Runtime (") and words.endswith("indexing 10 photos or more: torch on the GPU)")
        assert lib.index().embedded == len(LAYOUT)
        assert ran == [("torch", "cuda")]
        on_cpu = {rel: lib.search_image(q, k=5) for rel, q in queries.items()}
        assert ran[-1] == ("onnx", "cpu")
    with Library(root, model="efficientnet-lite2", device="cuda") as lib:
        on_gpu = {rel: lib.search_image(q, k=5) for rel, q in queries.items()}
        assert ran[-1] == ("torch", "cuda")
    for rel in queries:
        assert on_gpu[rel][0].photo.rel_path == on_cpu[rel][0].photo.rel_path == rel
        # Near ties may swap places; the scores may not move.
        assert [h.score for h in on_gpu[rel]] == pytest.approx([h.score for h in on_cpu[rel]], abs=2e-3)
