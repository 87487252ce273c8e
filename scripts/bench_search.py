"""Search at library scale: latency, recall, start-up, memory.

A catalog of N photos is written straight into SQLite with realistic vectors (see
realistic_vectors.py: derived from efficientnet-lite2 embeddings of real photos and their
augmented copies, projected to 512-d — not uniform noise), spread over 100 folders with
capture dates over 10 years. Then, each in a fresh process, through the same `Library` calls
the window and the CLI make:

- build: the first open, with no cache: vectors from SQLite, approximate index trained, saved;
- load: a later open from the cache (catalog + index), then the model (ViT-B-32: the real
  open_clip architecture with random-init weights saved as a checkpoint and loaded through
  --weights — the same compute and memory as the pretrained model; no quality is claimed);
  resident memory (RSS) is read after both;
- latency of vector search (k=60) without a filter, with a folder filter selecting 1 % of
  the photos, and with a 1-year date filter; and end to end for an image query (decode,
  preprocess, encode, search), model load excluded;
- recall@60 of each query against exact search over the same float16 vectors;
- adding 1,000 photos to the loaded index (no rebuild) and saving it.

    python scripts/bench_search.py --photos 100000
    python scripts/bench_search.py --photos 1000000
    python scripts/bench_search.py --photos 1000000 --model-process    # as the window runs it
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
from datetime import datetime
from pathlib import Path

import benchutil  # noqa: F401  (puts the package on sys.path)
import numpy as np
from PIL import Image
from whitebox import catalog_of, index_of

WORK = Path(tempfile.gettempdir()) / "photosearch-bench"
FOLDERS = 100
DIM = 512


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def vit_b32_checkpoint() -> Path:
    path = WORK / "vit-b-32-random-init.pt"
    if not path.exists():
        # Imported only here: with --model-process this process must stay without torch,
        # as the window does, or its memory would count torch twice.
        import open_clip
        import torch

        WORK.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-B-32").state_dict(), path)
    return path


def paths(n: int) -> tuple[Path, Path]:
    return WORK / f"scale-lib-{n}", WORK / f"scale-data-{n}"


def build_catalog(n: int, identity: str) -> None:
    from realistic_vectors import realistic_vectors

    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import PhotoMeta

    root, data_dir = paths(n)
    stamp = data_dir / ".built"
    if stamp.exists() and stamp.read_text() == identity:
        return
    shutil.rmtree(data_dir, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    vectors = realistic_vectors(n, DIM)
    lib = Library(root, data_dir=data_dir, model="clip:ViT-B-32")
    per = n // FOLDERS
    catalog_of(lib).apply_changes([(f"{i // per:03d}/IMG_{i:07d}.jpg", 1, 1, None) for i in range(n)], [], [], [], [])
    catalog_of(lib).set_model("clip:ViT-B-32", identity, DIM)
    pending = catalog_of(lib).pending()
    rng = np.random.default_rng(0)
    base = np.datetime64("2015-01-01T00:00:00")
    for i in range(0, n, 20_000):
        chunk = pending[i : i + 20_000]
        seconds = rng.integers(0, 10 * 365 * 86400, len(chunk))
        metas = [PhotoMeta(4000, 3000, (base + int(s)).item(), "exif-original") for s in seconds]
        ids = [pid for pid, _ in chunk]
        catalog_of(lib).store_batch([(pid, vectors[pid - 1], m, None) for pid, m in zip(ids, metas, strict=True)], [])
    lib.close()
    stamp.write_text(identity)


def percentiles(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2)}


def phase_build(n: int, weights: Path) -> dict:
    from photosearch_desktop.engine.library import Library

    root, data_dir = paths(n)
    for f in data_dir.glob("libraries/*/vectors.*"):
        f.unlink()
    t0 = time.perf_counter()
    lib = Library(root, data_dir=data_dir, model="clip:ViT-B-32", weights=weights, device="cpu")
    index = index_of(lib)
    return {"build_s": round(time.perf_counter() - t0, 1), "approximate": index.approximate, "vectors": len(index)}


def phase_load(n: int, weights: Path, queries: int, k: int, model_process: bool) -> dict:
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import SearchFilters

    root, data_dir = paths(n)
    t0 = time.perf_counter()
    lib = Library(root, data_dir=data_dir, model="clip:ViT-B-32", weights=weights, device="cpu",
                  model_process=model_process)
    index = index_of(lib)
    load_s = time.perf_counter() - t0
    rss_index = rss_mb()
    embedder = lib.embedder()
    rss_model = rss_mb()
    # With the model in its own process (as in the window), memory is the two processes' sum.
    rss_model_process = rss_mb(embedder.pid)["VmRSS"] if model_process else 0.0

    import faiss

    # Ground truth: exhaustive search over the catalog's float16 vectors (the index itself may
    # hold 8-bit approximations), built after memory was measured.
    truth = faiss.IndexIDMap2(faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))
    for ids, vectors in catalog_of(lib).iter_vectors():
        truth.add_with_ids(vectors, ids)
    rng = np.random.default_rng(7)
    qids = rng.choice(np.arange(1, n + 1), queries, replace=False)
    _, qvecs = catalog_of(lib).vectors(qids.tolist())
    rows = []
    filters = {
        "no filter": SearchFilters(),
        "folder filter (1%)": SearchFilters(folder="042"),
        "date filter (1 year)": SearchFilters(date_from=datetime(2019, 1, 1), date_to=datetime(2019, 12, 31, 23, 59, 59)),
    }
    for label, f in filters.items():
        t0 = time.perf_counter()
        allowed = catalog_of(lib).filtered_ids(f) if f.active else None
        first_filter_ms = (time.perf_counter() - t0) * 1000  # later queries reuse the set
        times, recalls = [], []
        for q in qvecs:
            t0 = time.perf_counter()
            results = lib.search_vector(q, k, f)
            times.append(time.perf_counter() - t0)
            assert len(results) == k
            params = None if allowed is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            _, exact = truth.search(q.reshape(1, -1), k, params=params)
            recalls.append(len(set(exact[0]) & {r.photo.id for r in results}) / k)
        rows.append(
            {
                "query": f"vector search, {label}",
                "k": k,
                **percentiles(times),
                "recall_at_k": round(float(np.mean(recalls)), 4),
                "filter_sql_ms": round(first_filter_ms, 1) if allowed is not None else None,
            }
        )
    collapsed = SearchFilters(collapse_duplicates=True)
    times = []
    for q in qvecs[:50]:
        t0 = time.perf_counter()
        lib.search_vector(q, k, collapsed)
        times.append(time.perf_counter() - t0)
    rows.append({"query": "vector search, near-duplicates collapsed", "k": k, **percentiles(times), "recall_at_k": None, "filter_sql_ms": None})

    photo = WORK / "query-12mp.jpg"
    if not photo.exists():
        Image.effect_mandelbrot((4000, 3000), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(photo, quality=90)
    small = WORK / "query-640.jpg"
    if not small.exists():
        Image.open(photo).resize((640, 480)).save(small, quality=90)
    lib.search_image(small, k)  # first call warms up the model's kernels
    for label, path in (("640x480 JPEG", small), ("12 MP JPEG", photo)):
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            lib.search_image(path, k)
            times.append(time.perf_counter() - t0)
        rows.append({"query": f"image query end to end, {label}", "k": k, **percentiles(times), "recall_at_k": None, "filter_sql_ms": None})

    trained_at = index._ann_trained_at
    new = rng.standard_normal((1000, DIM)).astype(np.float32)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    t0 = time.perf_counter()
    index.add(np.arange(10 * n, 10 * n + 1000, dtype=np.int64), new)
    add_s = time.perf_counter() - t0
    assert index._ann_trained_at == trained_at, "adding 1,000 photos must not retrain"
    return {
        "rows": rows,
        "load_s": round(load_s, 2),
        "rss_index_mb": round(rss_index["VmRSS"]),
        "rss_with_model_mb": round(rss_model["VmRSS"] + rss_model_process),
        "rss_model_process_mb": round(rss_model_process),
        "add_1000_s": round(add_s, 3),
        "torch_threads": None if model_process else __import__("torch").get_num_threads(),
        "approximate": index.approximate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=60)
    parser.add_argument("--phase", choices=["all", "build", "load"], default="all")
    parser.add_argument("--model-process", action="store_true", help="run the model in its own process, as the window does")
    args = parser.parse_args()

    weights = vit_b32_checkpoint()
    if args.phase == "build":
        print(json.dumps(phase_build(args.photos, weights)))
        return
    if args.phase == "load":
        print(json.dumps(phase_load(args.photos, weights, args.queries, args.k, args.model_process)))
        return

    from photosearch_desktop.engine.models.clip import file_sha256

    t0 = time.perf_counter()
    build_catalog(args.photos, f"open_clip/ViT-B-32/sha256:{file_sha256(weights)[:16]}")
    catalog_s = time.perf_counter() - t0

    def fresh(phase: str) -> dict:
        out = subprocess.run(
            [sys.executable, __file__, "--photos", str(args.photos), "--queries", str(args.queries), "-k", str(args.k), "--phase", phase]
            + (["--model-process"] if args.model_process else []),
            check=True, capture_output=True, text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    build = fresh("build")
    load = fresh("load")
    benchutil.report(
        f"bench_search: {args.photos:,} photos, dim {DIM}",
        load["rows"],
        {
            "vectors": "realistic (scripts/realistic_vectors.py)",
            "index": "IVF-PQ candidates, 8-bit store re-ranking, exact float16 final scoring"
            if load["approximate"]
            else "exact float16",
            "catalog_write_s": round(catalog_s, 1),
            "index_build_s": build["build_s"],
            "load_from_cache_s": load["load_s"],
            "rss_index_mb": load["rss_index_mb"],
            "rss_with_vit_b32_mb": load["rss_with_model_mb"],
            "rss_of_which_model_process_mb": load["rss_model_process_mb"],
            "add_1000_photos_s": load["add_1000_s"],
            "torch_threads": load["torch_threads"],
            "cores": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
