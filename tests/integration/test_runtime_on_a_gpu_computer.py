"""A computer where a GPU is expected (simulated: this one has none): queries and small index
runs use the model on the CPU, which starts in about a second; large index runs load the GPU's
model and let it go afterwards. What the person chose (a device, a runtime) is what runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpucomputer import simulate_gpu_computer
from libgen import make_library, near_copy, picture

from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.models.handle import ModelHandle

LARGE = 10  # photos from which a run uses the GPU's model, for these tests (the library has 24)


@pytest.fixture
def gpu_computer(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    return simulate_gpu_computer(monkeypatch, LARGE)


def test_queries_and_small_runs_use_the_cpu_and_large_runs_the_gpu(
    tmp_path: Path, tiny_clip, data_dir: Path, gpu_computer: list[tuple[str, bool]]  # type: ignore[no-untyped-def]
) -> None:
    _name, weights, config = tiny_clip
    root = make_library(tmp_path / "Pictures")
    with Library(root, model=f"clip:{config}", weights=weights) as lib:
        plan = lib.runtime_plan()
        assert (plan.runtime, plan.device) == ("onnx", "cpu")
        assert plan.reason.endswith(
            "; a query starts sooner on the CPU than on the GPU; indexing 10 photos or more: torch on the GPU"
        )
        assert lib.index().embedded == 24
        assert gpu_computer == [("load", False), ("close", False)], "24 photos: the GPU's model, let go after"

        for seed in (7, 101, 203):
            near_copy(picture(seed)).save(root / f"new-{seed}.jpg")
        assert lib.index().embedded == 3
        assert gpu_computer[2:] == [("load", True)], "3 photos: the CPU's model, kept for queries"
        assert lib.search_text("a red square", k=3)
        assert lib.runtime_plan().words == (
            "ONNX Runtime (running; indexing 10 photos or more: torch on the GPU)"
        )
    assert gpu_computer[3:] == [("close", True)]


@pytest.mark.parametrize("chosen", [{"device": "cpu"}, {"runtime": "onnx"}, {"runtime": "torch"}])
def test_a_chosen_device_or_runtime_runs_everything(
    tmp_path: Path, tiny_clip, data_dir: Path, gpu_computer: list[tuple[str, bool]], chosen: dict[str, str]  # type: ignore[no-untyped-def]
) -> None:
    _name, weights, config = tiny_clip
    root = make_library(tmp_path / "Pictures")
    with Library(root, model=f"clip:{config}", weights=weights, **chosen) as lib:
        assert "GPU" not in lib.runtime_plan().reason
        assert lib.index().embedded == 24
        assert lib.search_text("a red square", k=3)
        assert gpu_computer == [("load", False)], "one model for indexing and queries"


def test_a_gpu_that_cannot_run_the_model_leaves_the_run_to_the_cpu(
    tmp_path: Path, tiny_clip, data_dir: Path, gpu_computer: list[tuple[str, bool]], monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    _name, weights, config = tiny_clip
    real_load = ModelHandle._load

    def load(self: ModelHandle):  # type: ignore[no-untyped-def]
        if not self.for_queries:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\n(more of torch's words)")
        return real_load(self)

    monkeypatch.setattr(ModelHandle, "_load", load)
    root = make_library(tmp_path / "Pictures")
    with Library(root, model=f"clip:{config}", weights=weights) as lib:
        assert lib.index().embedded == 24
        assert lib.notices == [
            "The GPU could not run the model (CUDA out of memory. Tried to allocate 2.00 GiB); "
            "the CPU indexes these 24 photos instead."
        ]
        assert lib.search_text("a red square", k=3)
