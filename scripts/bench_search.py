"""Search latency at library scale.

A catalog of N photos with dim-D unit vectors is written straight into SQLite (latency
depends on sizes, not on what the vectors mean), then queries are timed through the same
`Library` calls the window and the CLI make:

- vector search: `Library.search_vector` (FAISS + filters + catalog records), by query vector;
- end to end: `Library.search_image` on a photo file: decode, preprocess, encode with a
  ViT-B-32 (the real open_clip architecture, random-init weights saved as a checkpoint and
  loaded through --weights: the same compute as the pretrained model; no quality is claimed),
  search, records. Model load is excluded.

    python scripts/bench_search.py --photos 100000 --dim 512
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import benchutil  # noqa: F401  (puts the package on sys.path)
import numpy as np
from PIL import Image

WORK = Path(tempfile.gettempdir()) / "photosearch-bench"


def vit_b32_checkpoint() -> Path:
    import open_clip
    import torch

    path = WORK / "vit-b-32-random-init.pt"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-B-32").state_dict(), path)
    return path


def build_library(n: int, dim: int, identity: str) -> tuple[Path, Path]:
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import PhotoMeta

    root = WORK / f"search-lib-{n}"
    data_dir = WORK / f"search-data-{n}-{dim}"
    stamp = data_dir / ".built"
    if stamp.exists() and stamp.read_text() == identity:
        return root, data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    lib = Library(root, data_dir=data_dir, model="clip:ViT-B-32")
    rng = np.random.default_rng(0)
    new = [(f"{i // 1000:03d}/IMG_{i:06d}.jpg", 1, 1, None) for i in range(n)]
    lib.catalog.apply_changes(new, [], [], [], [])
    lib.catalog.set_model("clip:ViT-B-32", identity, dim)
    pending = lib.catalog.pending()
    base = np.datetime64("2015-01-01")
    for i in range(0, n, 10_000):
        chunk = pending[i : i + 10_000]
        vecs = rng.standard_normal((len(chunk), dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        days = rng.integers(0, 3650, len(chunk))
        metas = [PhotoMeta(4000, 3000, taken_at=(base + int(d)).astype("datetime64[s]").item(), taken_source="exif-original") for d in days]
        lib.catalog.store_batch([(pid, v, m, None) for (pid, _), v, m in zip(chunk, vecs, metas)], [])
    lib.close()
    stamp.write_text(identity)
    return root, data_dir


def percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=60)
    args = parser.parse_args()

    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.models.clip import file_sha256
    from photosearch_desktop.engine.records import SearchFilters

    weights = vit_b32_checkpoint()
    identity = f"open_clip/ViT-B-32/sha256:{file_sha256(weights)[:16]}"
    root, data_dir = build_library(args.photos, args.dim, identity)
    lib = Library(root, data_dir=data_dir, model="clip:ViT-B-32", weights=weights, device="cpu")
    t0 = time.perf_counter()
    lib.warm_up()
    load_s = time.perf_counter() - t0

    rng = np.random.default_rng(1)
    queries = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    rows = []
    for label, filters in (
        ("vector search, no filter", SearchFilters()),
        ("vector search, folder filter (1%)", SearchFilters(folder="007")),
        ("vector search, date filter (1 year)", SearchFilters(date_from=datetime(2019, 1, 1), date_to=datetime(2019, 12, 31, 23, 59, 59))),
    ):
        times = []
        for q in queries:
            t0 = time.perf_counter()
            results = lib.search_vector(q, args.k, filters)
            times.append(time.perf_counter() - t0)
        assert len(results) == args.k
        rows.append({"query": label, "k": args.k, **percentiles(times)})

    photo = WORK / "query-12mp.jpg"
    if not photo.exists():
        Image.effect_mandelbrot((4000, 3000), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(photo, quality=90)
    small = WORK / "query-small.jpg"
    Image.open(photo).resize((640, 480)).save(small, quality=90)
    for label, path in (("image query end to end (640x480 JPEG)", small), ("image query end to end (12 MP JPEG)", photo)):
        times = []
        for _ in range(max(20, args.queries // 5)):
            t0 = time.perf_counter()
            lib.search_image(path, args.k)
            times.append(time.perf_counter() - t0)
        rows.append({"query": label, "k": args.k, **percentiles(times)})
    lib.close()
    benchutil.report(
        f"bench_search: {args.photos:,} photos, dim {args.dim}",
        rows,
        {"index_and_model_load_s": load_s, "torch_threads": __import__("torch").get_num_threads(), "cores": os.cpu_count()},
    )


if __name__ == "__main__":
    main()
