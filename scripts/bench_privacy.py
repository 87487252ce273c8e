"""What keeping the app's files private costs.

    python scripts/bench_privacy.py [--weights-mb 605] [--thumbnails 20000] [--runs 3] [--json-out FILE]

1. The weights check at every CLIP load: the sha256 of a weights file the size of CLIP
   ViT-B/32's (605,143,316 bytes; random bytes, read from the page cache as on a second load),
   through engine/models/weights.py ``check_weights``: the first use (hash recorded) and a later
   load (hash compared).
2. The check at every start (``keep_private``) on an install whose folders are owner-only: a
   few ``stat`` calls, whatever it holds.
3. The one-time tightening of an install made before (folders 0755, files 0644) holding
   ``--thumbnails`` cached thumbnails (tiny files: the walk and the chmod calls are the cost).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import benchutil

from photosearch_desktop.engine.models.weights import check_weights
from photosearch_desktop.engine.system.paths import app_dirs
from photosearch_desktop.engine.system.private_files import keep_private

B32_BYTES = 605_143_316


def weights_check(work: Path, size: int, runs: int) -> list[dict[str, object]]:
    weights = work / "open_clip_model.safetensors"
    with open(weights, "wb") as fh:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 24))
            fh.write(block)
            left -= len(block)
    record_dir = work / "models"
    rows = []
    for what, renew in (("first use (hash recorded)", True), ("later load (hash compared)", False)):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            check_weights(weights, "laion/CLIP-ViT-B-32-laion2B-s34B-b79K/open_clip_model.safetensors", None,
                          record_dir, renew=renew)
            times.append(time.perf_counter() - started)
        rows.append({"what": f"weights check, {size / 1e6:.0f} MB: {what}", "median_s": statistics.median(times),
                     "runs": runs})
    weights.unlink()
    return rows


def make_install(data: Path, thumbnails: int) -> None:
    dirs = app_dirs(data)
    lib = dirs.library_dir(Path("/photos/Family"))
    lib.mkdir(parents=True)
    for name in ("catalog.sqlite", "vectors.faiss", "vectors.json", "writer.lock"):
        (lib / name).write_bytes(b"x" * 1000)
    for n in range(thumbnails):
        folder = dirs.thumbnails / f"{n % 256:02x}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{n:040x}.jpg").write_bytes(b"j" * 64)
    for folder in (dirs.logs, dirs.config):
        folder.mkdir(parents=True)
        (folder / "file").write_text("x")
    for root, subdirs, files in os.walk(data):
        for name in subdirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def start_checks(work: Path, thumbnails: int, runs: int) -> list[dict[str, object]]:
    rows = []
    times = []
    for n in range(runs):
        data = work / f"install-{n}"
        make_install(data, thumbnails)
        started = time.perf_counter()
        done = keep_private(app_dirs(data))
        times.append(time.perf_counter() - started)
    rows.append({"what": f"start on an install made before ({thumbnails} thumbnails): tightened once",
                 "median_s": statistics.median(times), "runs": runs,
                 "changed": f"{done.folders} folders, {done.files} files"})
    times = []
    for _ in range(max(runs, 20)):
        started = time.perf_counter()
        keep_private(app_dirs(work / "install-0"))
        times.append(time.perf_counter() - started)
    rows.append({"what": "start on an owner-only install (every start from then on)",
                 "median_s": statistics.median(times), "runs": len(times)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-mb", type=float, default=B32_BYTES / 1e6)
    parser.add_argument("--thumbnails", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as tmp:
        work = Path(tmp)
        rows = weights_check(work, int(args.weights_mb * 1e6), args.runs)
        rows += start_checks(work, args.thumbnails, args.runs)
    benchutil.report("Keeping the app's files private", rows, json_path=args.json_out)


if __name__ == "__main__":
    main()
