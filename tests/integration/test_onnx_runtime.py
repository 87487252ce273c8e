"""The ONNX Runtime path: a model's towers exported once and checked against torch, queries and
indexing without torch once the graphs are cached, a mismatching export refused (torch runs
instead), ``--runtime torch`` honoured, and the window's model process on ONNX too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from childproc import child_env
from libgen import make_library, near_copy, picture
from shareddata import SHARED
from tinyclip import TINY_CLIP_NAME

from photosearch_desktop.engine.errors import Action, ModelError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.models import onnx_export
from photosearch_desktop.engine.models.factory import create_embedder
from photosearch_desktop.engine.models.graphs import IMAGE_GRAPH, MANIFEST, REFUSAL, TEXT_GRAPH
from photosearch_desktop.engine.models.process import ModelProcess
from photosearch_desktop.engine.models.registry import get_spec
from photosearch_desktop.engine.models.runtime import decide, gpu_run_photos, graphs_folder_for
from photosearch_desktop.engine.models.tokenizer import open_clip_vocab_file
from photosearch_desktop.engine.records import Preparation

TEXTS = ["a red square", "Two children playing in the snow", "café 東京", ""]

# A fresh interpreter runs the command line, then says which heavy packages it imported.
CLI_DRIVER = r"""
import contextlib, io, json, sys
from photosearch_desktop.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "stdout": out.getvalue(),
                  "imported": sorted(m for m in ("torch", "open_clip", "timm") if m in sys.modules)}))
"""


# Run first: a computer with an NVIDIA driver and a CUDA build of torch (no GPU answers here).
ON_A_GPU_COMPUTER = """
import photosearch_desktop.engine.models.runtime as runtime
runtime.gpu_possible = runtime._torch_gpu_build = lambda: True
"""


def _cli(*args: str | Path, before: str = "") -> dict:
    env = child_env()
    proc = subprocess.run(
        [sys.executable, "-c", before + CLI_DRIVER, *map(str, args)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["stderr"] = proc.stderr
    return out


def _photos() -> list:
    return [picture(i) for i in (0, 7, 101, 203)]


def test_clip_towers_export_once_and_give_torchs_vectors(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    _name, weights, config = tiny_clip
    model = f"clip:{config}"
    news: list[Preparation] = []
    onnx = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, preparing=news.append)
    assert onnx.runtime == "onnx"
    assert [n.stage for n in news] == ["started", "finished"]
    assert news[0].message == "Preparing the model for this computer… (once)"
    folder = onnx.graphs.folder  # type: ignore[attr-defined]
    assert all((folder / f).is_file() for f in (IMAGE_GRAPH, TEXT_GRAPH, MANIFEST))
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["min_cosine_image"] >= 0.9999 and manifest["min_cosine_text"] >= 0.9999
    assert manifest["export_seconds"] > 0

    torch_model = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, runtime="torch")
    assert torch_model.runtime == "torch" and torch_model.identity == onnx.identity
    for got, expected in ((onnx.encode_images(_photos()), torch_model.encode_images(_photos())),
                          (onnx.encode_text(TEXTS), torch_model.encode_text(TEXTS))):
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.sum(got * expected, axis=1).min() >= 0.9999

    news.clear()
    again = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, preparing=news.append)
    assert again.runtime == "onnx" and not news, "the graphs are exported once"

    # An export by an earlier version recorded the torch model's batch size; it is still used
    # as it is, with the batch size of this version.
    (folder / MANIFEST).write_text(json.dumps({**manifest, "cpu_batch_size": 16}))
    earlier = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, preparing=news.append)
    assert earlier.runtime == "onnx" and not news
    assert earlier.cpu_batch_size == torch_model.cpu_batch_size


def test_search_and_index_do_not_import_torch_once_the_graphs_are_cached(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    _name, weights, config = tiny_clip
    root = make_library(tmp_path / "Pictures")
    data = tmp_path / "data"
    common = ["--model", f"clip:{config}", "--weights", weights, "--data-dir", data]
    cpu = [*common, "--device", "cpu"]  # a GPU computer indexes on its GPU, with torch
    first = _cli("index", root, *cpu, "--json")
    assert first["code"] == 0 and "Preparing the model for this computer" in first["stderr"]
    assert json.loads(first["stdout"])["embedded"] > 0

    text = _cli("search", root, *cpu, "--text", "a red square", "-k", "3", "--json")
    query = tmp_path / "query.jpg"
    near_copy(picture(203)).save(query)
    image = _cli("search", root, *cpu, "--image", query, "-k", "3", "--json")
    for out in (text, image):
        assert out["code"] == 0 and out["imported"] == [], out["imported"]
        assert "Preparing" not in out["stderr"]
    assert json.loads(image["stdout"])[0]["path"] == "2019/Home/home_03.jpg"

    near_copy(picture(7)).save(root / "new.jpg")
    more = _cli("index", root, *cpu, "--json")
    assert more["code"] == 0 and json.loads(more["stdout"])["embedded"] == 1 and more["imported"] == []

    status = _cli("status", root, *cpu, "--json")
    assert json.loads(status["stdout"])["runtime"] == "onnx" and status["imported"] == []
    forced = _cli("status", root, *common, "--runtime", "torch")
    assert "Runtime:   torch (asked for)" in forced["stdout"]
    # With a GPU driver, the status says that queries run on the CPU and large index runs on the
    # GPU, without importing torch to ask (the window's status bar asks the same in its process).
    gpu = _cli("status", root, *common, "--json", before=ON_A_GPU_COMPUTER)
    said = json.loads(gpu["stdout"])
    assert (said["runtime"], said["runtime_device"]) == ("onnx", "cpu") and gpu["imported"] == []
    assert said["runtime_reason"].endswith(f"indexing {gpu_run_photos():,} photos or more: torch on the GPU")
    gpu_search = _cli("search", root, *common, "--image", query, "-k", "3", "--json", before=ON_A_GPU_COMPUTER)
    assert gpu_search["imported"] == [] and json.loads(gpu_search["stdout"])[0]["path"] == "2019/Home/home_03.jpg"

    # The same query with torch forced finds the same photos: one model identity, two runtimes.
    torch_text = _cli("search", root, *common, "--runtime", "torch", "--text", "a red square", "-k", "3", "--json")
    assert "torch" in torch_text["imported"]
    ours, theirs = json.loads(text["stdout"]), json.loads(torch_text["stdout"])
    assert [r["path"] for r in ours] == [r["path"] for r in theirs]
    assert [r["score"] for r in ours] == pytest.approx([r["score"] for r in theirs], abs=1e-4)


def test_a_mismatching_export_is_refused_and_torch_runs(tmp_path: Path, tiny_clip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _name, weights, config = tiny_clip
    model = f"clip:{config}"
    real_run = onnx_export._run

    def off_by_noise(session: object, feed: np.ndarray) -> np.ndarray:  # as a wrong export would be
        out = real_run(session, feed)
        return out + np.random.default_rng(0).normal(0, 0.05 * float(np.abs(out).mean()), out.shape).astype(np.float32)

    monkeypatch.setattr(onnx_export, "_run", off_by_noise)
    news: list[Preparation] = []
    embedder = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, preparing=news.append)
    assert embedder.runtime == "torch"
    assert [n.stage for n in news] == ["started", "refused"]
    assert "cannot run on ONNX Runtime" in news[1].message and "gives other vectors than torch" in news[1].message
    assert "runs with torch instead" in news[1].message
    refusals = list(tmp_path.glob(f"onnx/*/{REFUSAL}"))
    assert len(refusals) == 1 and not list(tmp_path.glob(f"onnx/*/{IMAGE_GRAPH}"))
    monkeypatch.undo()

    news.clear()  # refused once: the next start goes straight to torch, without exporting again
    again = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, preparing=news.append)
    assert again.runtime == "torch" and not news
    plan = decide(get_spec(model), None, "cpu", weights, tmp_path).plan
    assert plan.runtime == "torch" and "refused" in plan.reason
    with pytest.raises(ModelError, match="cannot run on ONNX Runtime") as caught:
        create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path, runtime="onnx")
    assert Action.USE_TORCH in caught.value.hint


def test_two_exports_of_one_model_at_once_leave_one_folder(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    """The window and a command may both export the same model: the first finished folder is
    kept, the other export's is dropped, and what a killed export left is cleared once old."""
    _name, weights, config = tiny_clip
    spec = get_spec(f"clip:{config}")
    torch_model = create_embedder(spec.name, device="cpu", weights=weights, cache_dir=tmp_path, runtime="torch")
    folder = graphs_folder_for(spec, weights, tmp_path)
    folder.parent.mkdir(parents=True)
    abandoned = Path(f"{folder}{onnx_export.PARTIAL}killed")
    running = Path(f"{folder}{onnx_export.PARTIAL}running")
    abandoned.mkdir()
    running.mkdir()
    hours_ago = time.time() - 2 * onnx_export.ABANDONED_AFTER_S
    os.utime(abandoned, (hours_ago, hours_ago))

    first = onnx_export.export_graphs(torch_model, folder, open_clip_vocab_file())
    manifest = (folder / MANIFEST).read_bytes()
    # As another process would (it does not share this one's lock): its export finishes second.
    second = onnx_export._export_graphs(torch_model, folder, open_clip_vocab_file())
    assert first.folder == second.folder == folder
    assert (folder / MANIFEST).read_bytes() == manifest, "the first export's folder stays as it was"
    assert sorted(p.name for p in folder.parent.iterdir()) == sorted([folder.name, running.name])


@pytest.mark.expect_log(r"^No pretrained weights loaded for model 'tiny-clip-test'")  # open_clip, on making the other weights
def test_two_models_export_at_once_in_one_process(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    """Two libraries' models prepared in two threads: torch's exporter keeps global state, so
    unserialised the second export failed ("GLOBALS.in_onnx_export must be False")."""
    import open_clip
    import torch

    _name, weights, config = tiny_clip
    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    torch.save(open_clip.create_model(TINY_CLIP_NAME).state_dict(), other)
    spec = get_spec(f"clip:{config}")
    models = [create_embedder(spec.name, device="cpu", weights=w, cache_dir=tmp_path, runtime="torch") for w in (weights, other)]
    results: dict[int, object] = {}

    def export(i: int) -> None:
        try:
            folder = graphs_folder_for(spec, (weights, other)[i], tmp_path)
            results[i] = onnx_export.export_graphs(models[i], folder, open_clip_vocab_file())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=export, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(results[i], onnx_export.GraphSet) for i in range(2)), results


def test_runtime_torch_and_onnx_are_honoured(tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _name, weights, config = tiny_clip
    root = make_library(tmp_path / "Pictures")
    with Library(root, model=f"clip:{config}", weights=weights, runtime="torch") as lib:
        assert lib.runtime_plan().runtime == "torch"
        assert lib.embedder().runtime == "torch"
    with Library(root, model=f"clip:{config}", weights=weights, runtime="onnx") as lib:
        assert lib.embedder().runtime == "onnx"
        assert lib.status().runtime is not None and lib.status().runtime.runtime == "onnx"  # type: ignore[union-attr]
    spec = get_spec(f"clip:{config}")
    with pytest.raises(ModelError, match="ONNX Runtime runs the model on the CPU here") as caught:
        decide(spec, "onnx", "cuda", weights, tmp_path)
    assert Action.USE_TORCH in caught.value.hint
    from photosearch_desktop.engine.models import runtime

    monkeypatch.setattr(runtime, "onnxruntime_installed", lambda: False)
    assert decide(spec, None, "cpu", weights, tmp_path).plan.reason == "ONNX Runtime is not installed"
    with pytest.raises(ModelError, match="ONNX Runtime is not installed") as caught:
        decide(spec, "onnx", "cpu", weights, tmp_path)
    assert caught.value.hint.package == "onnxruntime"


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_model_process_runs_the_onnx_graphs(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    _name, weights, config = tiny_clip
    model = f"clip:{config}"
    news: list[Preparation] = []
    first = ModelProcess(model, device="cpu", weights=weights, cache_dir=tmp_path, preparing=news.append)
    try:
        assert first.runtime == "onnx" and [n.stage for n in news] == ["started", "finished"]
    finally:
        first.close()
    news.clear()
    second = ModelProcess(model, device="cpu", weights=weights, cache_dir=tmp_path, preparing=news.append)
    try:
        assert second.runtime == "onnx" and not news
        second.warm_up()
        in_process = create_embedder(model, device="cpu", weights=weights, cache_dir=tmp_path)
        assert np.allclose(second.encode_text(TEXTS), in_process.encode_text(TEXTS), atol=1e-6)
        assert np.allclose(second.encode_images(_photos()), in_process.encode_images(_photos()), atol=1e-6)
        if Path(f"/proc/{second.pid}/maps").exists():
            maps = _maps(second.pid)
            assert "onnxruntime" in maps and "libtorch" not in maps, "the model process runs without torch"
    finally:
        second.close()


@pytest.mark.slow
def test_efficientnet_lite2_exports_and_gives_torchs_vectors(tmp_path: Path) -> None:
    """Its real weights (15 s to export on 2 cores); checked on real photos where shared data is here."""
    news: list[Preparation] = []
    onnx = create_embedder("efficientnet-lite2", device="cpu", cache_dir=tmp_path, preparing=news.append)
    assert onnx.runtime == "onnx" and [n.stage for n in news] == ["started", "finished"]
    torch_model = create_embedder("efficientnet-lite2", device="cpu", cache_dir=tmp_path, runtime="torch")
    assert onnx.identity == torch_model.identity
    photos = sorted((SHARED / "data" / "library-dev" / "photos").rglob("*.jpg"))[:6]
    if photos:
        from PIL import Image

        images = [Image.open(p).convert("RGB") for p in photos]
    else:
        images = _photos()
    got, expected = onnx.encode_images(images), torch_model.encode_images(images)
    assert np.sum(got * expected, axis=1).min() >= 0.9999
