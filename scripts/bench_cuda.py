"""The CUDA path (torch, float16 autocast) on a computer with an NVIDIA GPU.

agreement, per model, on real photos (UKBench: groups of four views of one object):
  - 1 - the cosine between each photo's GPU vector and its CPU float32 vector (torch), worst
    and median; for CLIP also between the text vectors of a few queries;
  - N-S (of a photo's 4 nearest, itself included, how many show its object; 4.0 is perfect)
    with CPU vectors, with GPU vectors, and with GPU queries searched among CPU vectors (a
    library indexed on one computer and searched on another);
  - overlap@10: of each photo's 10 nearest others with CPU vectors, the share that are its 10
    nearest with GPU vectors.
start: whole `photosearch` processes, as a person runs them, on a library indexed on the GPU
(`--device cuda`: the automatic choice keeps runs under 75 photos per core on the CPU):
a photo query (a camera-size JPEG) and `status`, each with the automatic choice, with ONNX
Runtime on the CPU (`--runtime onnx`) and with torch on the GPU (`--runtime torch`),
alternating, medians; and which heavy packages each imported. Then torch's start on the GPU
step by step, in a fresh process: where a query's seconds go.

Models: efficientnet-lite2 (its real weights) and ViT-B-32 (the real open_clip architecture with
random-init weights: the same compute, no quality claimed; its N-S means nothing).

    python scripts/bench_cuda.py
    python scripts/bench_cuda.py --photos 200 --models efficientnet-lite2 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchutil
import numpy as np
from bench_index import small_photos, twelve_mp_photos
from childproc import child_env

TEXTS = ["a dog on a beach", "Two children playing in the snow", "a red car at night", "café 東京", ""]

# A fresh interpreter runs the command line, then says which heavy packages it imported.
CLI_DRIVER = r"""
import contextlib, io, json, sys
from photosearch_desktop.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "stdout": out.getvalue(),
                  "imported": sorted(m for m in ("torch", "open_clip", "timm", "onnxruntime") if m in sys.modules)}))
"""


# A fresh interpreter: torch's start on the GPU, step by step (seconds since the previous step).
START_DRIVER = r"""
import json, sys, time
import numpy as np
steps, t = {}, time.perf_counter()
def step(name):
    global t
    now = time.perf_counter(); steps[name] = now - t; t = now
import torch; step("import torch")
torch.cuda.init(); torch.zeros(1, device="cuda"); step("CUDA context")
from photosearch_desktop.engine.models.efficientnet_lite import EfficientNetLite2Embedder; step("import timm and the model code")
model = EfficientNetLite2Embedder(device="cuda"); step("build, load weights, move to the GPU")
one = np.zeros((1, 3, model.input_size, model.input_size), dtype=np.float32)
model.encode_arrays(one); step("first photo")
model.encode_arrays(one); step("second photo")
print(json.dumps(steps))
"""


def torch_start_steps() -> list[dict]:
    env = child_env()
    proc = subprocess.run([sys.executable, "-c", START_DRIVER], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"torch's start failed: {proc.stderr[-3000:]}")
    steps = json.loads(proc.stdout.strip().splitlines()[-1])
    return [{"step": name, "seconds": seconds} for name, seconds in steps.items()]


def _vectors(embedder, arrays: np.ndarray, batch: int = 64) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.concatenate([embedder.encode_arrays(arrays[i : i + batch]) for i in range(0, len(arrays), batch)])


def _nearest(queries: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    return np.argsort(-(queries @ index.T), axis=1, kind="stable")[:, :n]


def _ns(queries: np.ndarray, index: np.ndarray, groups: np.ndarray) -> float:
    return float((groups[_nearest(queries, index, 4)] == groups[:, None]).sum(axis=1).mean())


def _overlap10(a: np.ndarray, b: np.ndarray) -> float:
    """Share of each photo's 10 nearest others under ``a`` that are its 10 nearest under ``b``."""
    na, nb = _nearest(a, a, 11), _nearest(b, b, 11)

    def others(nearest: np.ndarray, i: int) -> set[int]:
        return set([int(j) for j in nearest[i] if j != i][:10])

    return float(np.mean([len(others(na, i) & others(nb, i)) / 10 for i in range(len(a))]))


def agreement(name: str, weights: Path | None, photos: list[Path], device: str) -> dict:
    from photosearch_desktop.engine.media.loader import load_image
    from photosearch_desktop.engine.models.factory import create_embedder

    cpu = create_embedder(name, device="cpu", weights=weights, runtime="torch")
    gpu = create_embedder(name, device=device, weights=weights, runtime="torch")
    arrays = np.stack([cpu.preprocess(load_image(p, min_side=cpu.input_size).image) for p in photos])
    a, b = _vectors(cpu, arrays), _vectors(gpu, arrays)
    cos = np.sum(a * b, axis=1)
    groups = np.array([int(p.stem[-5:]) // 4 for p in photos])
    row = {
        "model": name, "photos": len(photos),
        "1-cos_worst": float(1 - cos.min()), "1-cos_median": float(1 - np.median(cos)),
        "ns_cpu": _ns(a, a, groups), "ns_gpu": _ns(b, b, groups), "ns_gpu_query_cpu_index": _ns(b, a, groups),
        "overlap10": _overlap10(a, b),
        "text_1-cos_worst": None,
    }
    if gpu.supports_text:
        row["text_1-cos_worst"] = float(1 - np.sum(cpu.encode_text(TEXTS) * gpu.encode_text(TEXTS), axis=1).min())
    return row


def _cli(*args: str | Path) -> tuple[float, dict]:
    env = child_env()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CLI_DRIVER, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=900)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"photosearch {' '.join(map(str, args))} failed: {proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["code"] != 0:
        raise SystemExit(f"photosearch {' '.join(map(str, args))} said {out['code']}: {proc.stderr[-3000:]}")
    return wall, out


def start(
    name: str, weights: Path | None, photos: list[Path], query: Path, work: Path, repeats: int, device: str
) -> list[dict]:
    root, data = work / "library", work / "data"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    root.mkdir(parents=True)
    for p in photos:
        shutil.copy(p, root / p.name)
    common: list[str | Path] = ["--model", name, "--data-dir", data, *(["--weights", weights] if weights else [])]
    index_s, indexed = _cli("index", root, *common, "--device", device, "--json")
    # The first ONNX query exports the graphs for this computer (once): timed on its own.
    export_s, _ = _cli("search", root, *common, "--image", query, "-k", "20", "--runtime", "onnx")
    rows = [
        {"model": name, "what": f"index {len(photos)} photos (--device {device}), whole process", "seconds": index_s,
         "imported": "", "says": f"{json.loads(indexed['stdout'])['embedded']} embedded"},
        {"model": name, "what": "first query on ONNX Runtime (exports once)", "seconds": export_s,
         "imported": "", "says": ""},
    ]
    for what, args in (("photo query", ["search", root, *common, "--image", query, "-k", "20"]),
                       ("status", ["status", root, *common])):
        runs: dict[str, list[tuple[float, dict]]] = {"auto": [], "onnx": [], "torch": []}
        for _ in range(repeats):
            for runtime in runs:
                runs[runtime].append(_cli(*args, "--runtime", runtime))
        for runtime, measured in runs.items():
            walls = sorted(w for w, _ in measured)
            said = next((line.strip() for line in measured[0][1]["stdout"].splitlines() if line.startswith("Runtime")), "")
            rows.append({"model": name, "what": f"{what}, runtime {runtime}", "seconds": walls[len(walls) // 2],
                         "imported": ", ".join(measured[0][1]["imported"]) or "-", "says": said})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["efficientnet-lite2", "clip:ViT-B-32"])
    parser.add_argument("--photos", type=int, default=400, help="UKBench photos (a multiple of 4)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per start measured (median)")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    photos = small_photos(args.photos)
    if len(photos) != args.photos or photos[0].parent.name != "images":
        raise SystemExit("needs the UKBench photos of ../shared/data/ukbench-dev (or PHOTOSEARCH_SHARED)")
    query = twelve_mp_photos(1)[0]
    work = Path(tempfile.mkdtemp(prefix="bench-cuda-"))
    agreed, started = [], []
    try:
        for name in args.models:
            weights = None
            if name == "clip:ViT-B-32":
                from bench_search import vit_b32_checkpoint

                weights = vit_b32_checkpoint()
            agreed.append(agreement(name, weights, photos, args.device))
            if name == "efficientnet-lite2" and args.repeats:
                started += start(name, weights, photos, query, work, args.repeats, args.device)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    benchutil.report("bench_cuda: GPU vectors against the CPU's", agreed,
                     {"note": "GPU: torch with float16 autocast; CPU: torch float32"})
    benchutil.report("bench_cuda: whole processes on a library indexed on the GPU", started,
                     {"note": f"medians of {args.repeats} fresh processes, auto, onnx and torch alternating"})
    if args.device.startswith("cuda"):
        benchutil.report("bench_cuda: torch's start on the GPU, step by step (efficientnet-lite2)", torch_start_steps())


if __name__ == "__main__":
    main()
