"""What the ONNX Runtime path costs and saves, per model: the one-time export, and each start after.

For each model, in a fresh models cache:

- export: the towers exported to ONNX and checked against torch, as on a person's first use
  (wall seconds, the lowest cosine between torch's and ONNX Runtime's vectors on the probe
  photos and texts);
- then, each in a fresh process with the graphs cached, as a command starts: the seconds and
  resident memory to import what runs the model and load one tower (ONNX Runtime: that
  tower's graph; torch: torch, open_clip or timm, and the whole model with its weights).

Models: efficientnet-lite2 (its real weights), and ViT-B-32 (the real open_clip architecture
with random-init weights saved as a checkpoint: the same compute and size as the pretrained
model, no quality claimed).

    python scripts/bench_onnx.py
    python scripts/bench_onnx.py --models efficientnet-lite2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchutil

# A fresh interpreter: import what runs the model and load one tower, then report.
LOAD_DRIVER = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from photosearch_desktop.engine.models.factory import create_embedder
name, weights, cache, runtime, tower = sys.argv[1:6]
model = create_embedder(name, device="cpu", weights=Path(weights) if weights else None, cache_dir=Path(cache),
                        runtime=runtime)
if tower == "text":
    model.encode_text(["a dog on a beach"])
else:
    import numpy as np
    model.encode_arrays(np.zeros((1, 3, model.input_size, model.input_size), dtype=np.float32))
seconds = time.perf_counter() - t0
heavy = sorted(m for m in ("torch", "open_clip", "timm", "onnxruntime") if m in sys.modules)
# VmHWM: this process's own peak (ru_maxrss would carry the parent's over the exec).
hwm = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "peak_mb": hwm / 1024,
                  "runtime": model.runtime, "imported": heavy}))
"""

REPO = Path(__file__).resolve().parents[1]


def load_once(name: str, weights: Path | None, cache: Path, runtime: str, tower: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-c", LOAD_DRIVER, name, str(weights or ""), str(cache), runtime, tower]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"load failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["runtime"] != runtime:
        raise SystemExit(f"{name} ran on {out['runtime']}, not {runtime}: {proc.stderr[-2000:]}")
    return out


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def measure(name: str, weights: Path | None, work: Path, repeats: int) -> list[dict]:
    from photosearch_desktop.engine.models.factory import create_embedder

    cache = work / f"cache-{name.replace(':', '-')}"
    shutil.rmtree(cache, ignore_errors=True)
    started = time.perf_counter()
    model = create_embedder(name, device="cpu", weights=weights, cache_dir=cache, runtime="onnx")
    export_s = time.perf_counter() - started
    graphs = model.graphs  # type: ignore[attr-defined]
    rows = [{
        "model": name, "what": "export once (wall, incl. torch model load)", "seconds": export_s,
        "peak_mb": None, "imports": "torch, onnx",
        "min_cosine": min(c for c in (graphs.min_cosine_image, graphs.min_cosine_text) if c is not None),
    }]
    model.close()
    towers = ["text", "image"] if graphs.supports_text else ["image"]
    for tower in towers:
        for runtime in ("onnx", "torch"):
            runs = [load_once(name, weights, cache, runtime, tower) for _ in range(repeats)]
            rows.append({
                "model": name, "what": f"{tower} query start on {runtime} (import + load + 1 run)",
                "seconds": median([r["seconds"] for r in runs]), "peak_mb": median([r["peak_mb"] for r in runs]),
                "imports": ", ".join(runs[0]["imported"]) or "-", "min_cosine": None,
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["efficientnet-lite2", "clip:ViT-B-32"])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per start measured (median)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    rows = []
    try:
        for name in args.models:
            weights = None
            if name.startswith("clip:"):
                from bench_search import vit_b32_checkpoint

                if name != "clip:ViT-B-32":
                    raise SystemExit("only clip:ViT-B-32 has a random-init checkpoint here")
                weights = vit_b32_checkpoint()
            rows += measure(name, weights, work, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    benchutil.report(
        "bench_onnx: the one-time export and each start after",
        rows,
        {"note": "starts are fresh processes with the graphs cached, medians of "
                 f"{args.repeats}; peak_mb is the process's peak resident memory"},
    )


if __name__ == "__main__":
    main()
