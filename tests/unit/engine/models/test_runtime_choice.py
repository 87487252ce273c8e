"""Which runtime and device run the model, as a GPU computer would decide it (simulated here:
this machine has no GPU): torch's build read from its version file, a GPU taken at its word
where only the plan is asked, and confirmed by torch where the model loads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from photosearch_desktop.engine.models import runtime
from photosearch_desktop.engine.models.registry import get_spec
from photosearch_desktop.engine.records import RuntimePlan

REAL_FIND_SPEC = importlib.util.find_spec


def _torch_at(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: SimpleNamespace(submodule_search_locations=[str(folder)]) if name == "torch" else REAL_FIND_SPEC(name, *a),
    )


@pytest.mark.parametrize(
    ("version_file", "gpu_build"),
    [
        ("cuda: Optional[str] = '12.1'\nhip: Optional[str] = None\n", True),
        ("cuda: Optional[str] = None\nhip: Optional[str] = '6.2.41133-dd7f95766'\n", True),
        ("cuda = \"11.8\"\n", True),
        ("cuda: Optional[str] = None\nhip: Optional[str] = None\n", False),
        ("__version__ = '2.5.1+cpu'\ncuda: Optional[str] = None\n", False),
        (None, False),
    ],
)
def test_torchs_build_is_read_from_its_version_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version_file: str | None, gpu_build: bool
) -> None:
    if version_file is not None:
        (tmp_path / "version.py").write_text(version_file)
    _torch_at(monkeypatch, tmp_path)
    assert runtime._torch_gpu_build() is gpu_build


def test_a_gpu_is_expected_only_with_its_driver_and_a_torch_built_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "gpu_possible", lambda: False)
    monkeypatch.setattr(runtime, "_torch_gpu_build", lambda: True)
    assert runtime.gpu_expected() is None
    monkeypatch.setattr(runtime, "gpu_possible", lambda: True)
    assert runtime.gpu_expected() == "cuda"
    monkeypatch.setattr(runtime, "_torch_gpu_build", lambda: False)
    assert runtime.gpu_expected() is None, "an NVIDIA driver with a CPU-only torch: ONNX Runtime on the CPU"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert runtime.gpu_expected() == "mps"


def test_the_plan_takes_an_expected_gpu_at_its_word_and_loading_asks_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = get_spec("efficientnet-lite2")
    monkeypatch.setattr(runtime, "gpu_expected", lambda: "cuda")
    asked = []
    import photosearch_desktop.engine.models.device as device

    monkeypatch.setattr(device, "resolve_device", lambda requested: asked.append(requested) or "cpu")
    plan = runtime.decide(spec, None, None, None, tmp_path, confirm_gpu=False).plan
    assert (plan.runtime, plan.device, plan.short) == ("torch", "cuda", "torch on the GPU")
    assert plan.words == "torch on the GPU (cuda expected; checked when the model loads)"
    assert asked == [], "saying what will run the model does not ask torch"

    # Loading asks torch; a GPU it cannot use (here: none at all) leaves the model on the CPU.
    loading = runtime.decide(spec, None, None, None, tmp_path)
    assert asked == [None]
    assert (loading.runtime, loading.device) == ("onnx", "cpu")

    monkeypatch.setattr(device, "resolve_device", lambda requested: "cuda")
    found = runtime.decide(spec, None, "auto", None, tmp_path)
    assert (found.runtime, found.device, found.plan.words) == ("torch", "cuda", "torch on the GPU (cuda found)")
    assert runtime.decide(spec, None, "cpu", None, tmp_path).runtime == "onnx", "the CPU asked for: no GPU looked for"


def test_queries_start_on_the_cpu_even_where_a_gpu_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = get_spec("efficientnet-lite2")
    monkeypatch.setattr(runtime, "gpu_expected", lambda: "cuda")
    import photosearch_desktop.engine.models.device as device

    monkeypatch.setattr(device, "resolve_device", lambda requested: pytest.fail("torch asked"))
    for confirm in (True, False):
        queries = runtime.decide(spec, None, None, None, tmp_path, confirm_gpu=confirm, for_queries=True)
        assert (queries.runtime, queries.device) == ("onnx", "cpu")
        assert queries.reason.endswith("; a query starts sooner on the CPU than on the GPU")
    # What the person asks for still goes: the GPU, or torch.
    assert runtime.decide(spec, None, "cuda", None, tmp_path, for_queries=True).plan.short == "torch on the GPU"
    assert runtime.decide(spec, "torch", None, None, tmp_path, for_queries=True).runtime == "torch"
    monkeypatch.setattr(runtime, "gpu_expected", lambda: None)
    assert runtime.decide(spec, None, None, None, tmp_path, for_queries=True).reason == "prepared for this computer on first use (once)"


def test_the_plans_words() -> None:
    assert RuntimePlan("onnx", "ready").words == "ONNX Runtime (ready)"
    assert RuntimePlan("torch", "asked for").short == "torch"
    assert RuntimePlan("torch", "running", "cuda:1").words == "torch on the GPU (running)"
    assert RuntimePlan("torch", "mps asked for", "mps").short == "torch on the GPU"
    assert RuntimePlan("none", "The weights file x does not exist.").short == ""


@pytest.mark.parametrize(("cores", "photos"), [(2, 150), (16, 1200), (None, 75)])
def test_a_run_loads_the_gpus_model_from_as_many_photos_as_the_cores_embed_while_torch_starts(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, photos: int
) -> None:
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: cores)
    assert runtime.gpu_run_photos() == photos
