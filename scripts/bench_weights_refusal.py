"""How long a search with the wrong weights file takes to be refused, and what it leaves behind.

A library is indexed with a checkpoint (the real open_clip ViT-B-32 architecture with
random-init weights: a real model's size and export, no quality claimed); the same checkpoint
with one tensor changed (as an edited file or another training run would be) is then given to
`photosearch search --text` in fresh processes, as a person would. Reported: each process's
wall seconds (the first hashes the new file, the others find its hash remembered) and the
bytes the refused searches added to the app's data folder (prepared model graphs).

    python scripts/bench_weights_refusal.py [--photos 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchutil
from bench_index import small_photos
from bench_search import vit_b32_checkpoint

MODEL = "clip:ViT-B-32"


def _tampered(source: Path, dest: Path) -> None:
    import torch

    state = torch.load(source, weights_only=True)
    first = next(k for k, v in state.items() if v.dtype.is_floating_point and v.numel() > 100)
    state[first] = state[first] + 0.01
    torch.save(state, dest)


def _photosearch(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "photosearch_desktop", *args], env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-refusal-"))
    try:
        weights = vit_b32_checkpoint()
        tampered = work / "tampered.pt"
        _tampered(weights, tampered)
        library = work / "library"
        library.mkdir()
        for photo in small_photos(args.photos):
            shutil.copy(photo, library / photo.name)
        env = dict(os.environ, PYTHONPATH=str(benchutil.REPO), PHOTOSEARCH_DATA_DIR=str(work / "data"))
        model = ["--model", MODEL, "--device", "cpu"]
        index_s, done = _photosearch(env, "index", str(library), *model, "--weights", str(weights), "-q")
        if done.returncode != 0:
            raise SystemExit(f"indexing failed: {done.stderr[-2000:]}")
        before = _size(work / "data")
        rows = []
        for run in range(1, args.repeats + 1):
            seconds, done = _photosearch(env, "search", str(library), *model, "--weights", str(tampered), "--text", "a dog")
            said = done.stderr.strip().splitlines()
            rows.append({
                "run": run, "seconds": seconds, "exit_code": done.returncode,
                "refused": any("indexed with other weights" in line for line in said),
                "mb_added_to_data": (_size(work / "data") - before) / 2**20,
                "other_lines": len([line for line in said if "indexed with other weights" not in line]),
            })
    finally:
        shutil.rmtree(work, ignore_errors=True)
    benchutil.report(
        "bench_weights_refusal: a search with another weights file",
        rows,
        {"model": MODEL, "photos": args.photos, "index_seconds": index_s,
         "note": "fresh processes; mb_added_to_data counts from after indexing"},
    )


if __name__ == "__main__":
    main()
