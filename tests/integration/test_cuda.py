"""The CUDA path (torch with float16 autocast) on a computer with an NVIDIA GPU; skipped
elsewhere (CI has no GPU). The automatic choice runs the model there; its vectors point the
way the CPU's float32 ones do, so a library indexed on a GPU computer is searched on a CPU one
with the same results. Figures: scripts/bench_cuda.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from libgen import LAYOUT, make_library, near_copy, picture
from PIL import Image
from shareddata import SHARED

from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.models.factory import create_embedder
from photosearch_desktop.engine.models.runtime import gpu_expected


def _cuda() -> bool:
    if gpu_expected() != "cuda":  # decided without importing torch: CI pays nothing here
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


def test_a_library_indexed_on_the_gpu_is_searched_on_the_cpu_with_the_same_results(tmp_path: Path, data_dir: Path) -> None:
    root = make_library(tmp_path / "Pictures")
    queries = {}
    for rel, seed, _taken in LAYOUT[::4]:  # a copy of a library photo, not in the library
        queries[rel] = tmp_path / f"query-{seed}.jpg"
        near_copy(picture(seed)).save(queries[rel])
    with Library(root, model="efficientnet-lite2") as lib:
        assert lib.runtime_plan().words == "torch on the GPU (cuda expected; checked when the model loads)"
        assert lib.index().embedded == len(LAYOUT)
        assert lib.runtime_plan().words == "torch on the GPU (running)"
        on_gpu = {rel: lib.search_image(q, k=5) for rel, q in queries.items()}
    # A command that only asks queries starts its model on the CPU (ONNX Runtime): sooner.
    with Library(root, model="efficientnet-lite2", for_queries=True) as lib:
        assert lib.runtime_plan().runtime == "onnx"
        on_cpu = {rel: lib.search_image(q, k=5) for rel, q in queries.items()}
        assert lib.runtime_plan().words == "ONNX Runtime (running)"
    for rel in queries:
        assert on_gpu[rel][0].photo.rel_path == on_cpu[rel][0].photo.rel_path == rel
        # Near ties may swap places; the scores may not move.
        assert [h.score for h in on_gpu[rel]] == pytest.approx([h.score for h in on_cpu[rel]], abs=2e-3)
