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
  the photos, and with a 1-year date filter, for query vectors that are NOT in the index
  (held out of the same realistic set: a photo the library has not seen, as a person's query
  photo is; a query taken from the catalog would find itself first, in its own IVF cell);
- recall@60 of each of those queries against exact search over the catalog's float16 vectors;
- end to end for image queries (decode, preprocess, encode, search), model load excluded,
  over distinct query photos (p99 of one photo repeated would only be its slowest repeat):
  camera-like 12 MP JPEGs of 3-5 MB (real photos upscaled to 4000x3000 with sensor-like
  noise, so they compress like camera files) and 640x480 versions of them;
- adding 1,000 photos as a person waits for it after their vectors are computed: the
  catalog rows, the vectors stored in batches with the loaded index updated, and the index
  saved (no retraining), as the indexer does.

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


HELD_OUT = 2_000  # realistic vectors kept out of the catalog: queries, and the 1,000 photos added


def held_out_file(n: int) -> Path:
    return paths(n)[1] / "held-out.npy"


def build_catalog(n: int, identity: str) -> None:
    from realistic_vectors import realistic_vectors

    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import PhotoMeta

    root, data_dir = paths(n)
    stamp = data_dir / ".built"
    if stamp.exists() and stamp.read_text() == identity and held_out_file(n).exists():
        return
    shutil.rmtree(data_dir, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    # One realistic set; its last rows (a random sample, the set is shuffled) never enter the
    # catalog. Some share a scene (a burst) with catalog photos, others do not: as new photos do.
    everything = realistic_vectors(n + HELD_OUT, DIM)
    vectors, held_out = everything[:n], everything[n:]
    data_dir.mkdir(parents=True, exist_ok=True)
    np.save(held_out_file(n), held_out)
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


def phase_prepare(n: int, weights: Path) -> dict:
    """The model's one-time ONNX export (if the runtime is ONNX): done before anything is
    timed, in a process of its own, as on a computer that has run the model before."""
    from photosearch_desktop.engine.library import Library

    root, data_dir = paths(n)
    t0 = time.perf_counter()
    with Library(root, data_dir=data_dir, model="clip:ViT-B-32", weights=weights, device="cpu") as lib:
        runtime = lib.embedder().runtime
    return {"prepare_s": round(time.perf_counter() - t0, 1), "runtime": runtime}


def phase_build(n: int, weights: Path) -> dict:
    from photosearch_desktop.engine.library import Library

    root, data_dir = paths(n)
    for f in data_dir.glob("libraries/*/vectors.*"):
        f.unlink()
    t0 = time.perf_counter()
    lib = Library(root, data_dir=data_dir, model="clip:ViT-B-32", weights=weights, device="cpu")
    index = index_of(lib)
    return {"build_s": round(time.perf_counter() - t0, 1), "approximate": index.approximate, "vectors": len(index)}


def camera_like_photos(count: int) -> list[Path]:
    """``count`` distinct 12 MP JPEGs of 3-5 MB, as a phone or camera writes them: real photos
    (../shared/data/library-dev) upscaled to 4000x3000 with sensor-like noise (a plain upscale
    compresses to under 1 MB, far lighter to decode than a camera file); rendered pictures
    where the shared data is absent."""
    from realistic_vectors import SHARED

    folder = WORK / "camera-12mp"
    out = [folder / f"Q{i:03d}.jpg" for i in range(count)]
    if all(p.exists() for p in out):
        return out
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in (SHARED / "data" / "library-dev" / "photos").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rng = np.random.default_rng(12)
    for i, path in enumerate(out):
        if path.exists():
            continue
        if sources:
            from PIL import ImageOps

            im = ImageOps.exif_transpose(Image.open(sources[i % len(sources)])).convert("RGB")
        else:
            im = Image.effect_mandelbrot((800, 600), (-2 + i * 0.01, -1.2, 1, 1.2), 40 + i).convert("RGB")
        im = im.resize((4000, 3000) if im.width >= im.height else (3000, 4000), Image.Resampling.LANCZOS)
        pixels = np.asarray(im, dtype=np.float32)
        sigma = 5.0
        while True:
            noisy = pixels + rng.standard_normal(pixels.shape, dtype=np.float32) * sigma
            Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=92)
            size = path.stat().st_size
            if 3e6 <= size <= 5e6 or sigma > 40 or sigma < 0.5:
                break
            sigma *= 1.5 if size < 3e6 else 0.6
    return out


def timed_rows(label: str, calls: list, k: int) -> dict:
    times = []
    for call in calls:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return {"query": label, "k": k, **percentiles(times), "recall_at_k": None, "filter_sql_ms": None, "queries": len(calls)}


def add_photos(lib, vectors: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    """Seconds to add len(vectors) photos as the indexer does once their vectors are computed:
    catalog rows, batches of vectors stored with the loaded index updated, the index saved."""
    from photosearch_desktop.engine.records import PhotoMeta, PipelineOptions

    catalog, cache = catalog_of(lib), lib._index  # the facade's index cache, as the indexer uses it
    batch = PipelineOptions().commit_every
    # An earlier run's additions (the catalog is kept between runs) go first, untimed.
    earlier = [k.id for rel, k in catalog.known_files().items() if rel.startswith("new/")]
    if earlier:
        with cache.changing():
            catalog.apply_changes([], [], [], earlier, [])
            cache.sync()
        cache.save()
    t0 = time.perf_counter()
    with cache.changing():
        catalog.apply_changes([(f"new/IMG_{i:05d}.jpg", 4_000_000, i, None) for i in range(len(vectors))], [], [], [], [])
        cache.sync()
    jobs = catalog.pending()
    meta = PhotoMeta(4000, 3000, datetime(2026, 1, 1), "exif-original")
    for start in range(0, len(jobs), batch):
        chunk = jobs[start : start + batch]
        embedded = [(pid, vectors[start + j], meta, None) for j, (pid, _) in enumerate(chunk)]
        with cache.changing() as index:
            catalog.store_batch(embedded, [])
            cache.add(index, [e[0] for e in embedded], [e[1] for e in embedded])
            cache.sync()
    cache.save()
    return time.perf_counter() - t0


def phase_load(n: int, weights: Path, queries: int, k: int, model_process: bool) -> dict:
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import SearchFilters

    root, data_dir = paths(n)
    photos = camera_like_photos(31)  # made before anything is timed or measured
    smalls = []
    for p in photos:
        small = p.with_name(p.stem + "-640.jpg")
        if not small.exists():
            Image.open(p).resize((640, 480)).save(small, quality=90)
        smalls.append(small)
    held_out = np.load(held_out_file(n))
    t0 = time.perf_counter()
    lib = Library(root, data_dir=data_dir, model="clip:ViT-B-32", weights=weights, device="cpu",
                  model_process=model_process)
    index = index_of(lib)
    load_s = time.perf_counter() - t0
    rss_index = rss_mb()
    embedder = lib.embedder()
    embedder.warm_up()  # every tower loaded: the most memory the model takes
    rss_model = rss_mb()
    # With the model in its own process (as in the window), memory is the two processes' sum.
    rss_model_process = rss_mb(embedder.pid)["VmRSS"] if model_process else 0.0

    import faiss

    # Ground truth: exhaustive search over the catalog's float16 vectors (the index itself may
    # hold 8-bit approximations), built after memory was measured.
    truth = faiss.IndexIDMap2(faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))
    for ids, vectors in catalog_of(lib).iter_vectors():
        truth.add_with_ids(vectors, ids)
    qvecs = held_out[: min(queries, HELD_OUT - 1000)]
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
                "query": f"vector search (held-out queries), {label}",
                "k": k,
                **percentiles(times),
                "recall_at_k": round(float(np.mean(recalls)), 4),
                "filter_sql_ms": round(first_filter_ms, 1) if allowed is not None else None,
                "queries": len(qvecs),
            }
        )
    collapsed = SearchFilters(collapse_duplicates=True)
    rows.append(timed_rows("vector search (held-out), near-duplicates collapsed",
                           [lambda q=q: lib.search_vector(q, k, collapsed) for q in qvecs[:50]], k))

    lib.search_image(smalls[-1], k)  # the first call warms up the model's kernels (a photo not timed)
    rows.append(timed_rows("image query end to end, 640x480 JPEG (distinct photos)",
                           [lambda p=p: lib.search_image(p, k) for p in smalls[:-1]], k))
    mb = [p.stat().st_size / 1e6 for p in photos[:-1]]
    rows.append(timed_rows(f"image query end to end, 12 MP camera JPEG {min(mb):.1f}-{max(mb):.1f} MB (distinct photos)",
                           [lambda p=p: lib.search_image(p, k) for p in photos[:-1]], k))

    trained_at = index._ann_trained_at
    add_s = add_photos(lib, held_out[HELD_OUT - 1000 :])
    assert index._ann_trained_at == trained_at, "adding 1,000 photos must not retrain"
    return {
        "rows": rows,
        "load_s": round(load_s, 2),
        "rss_index_mb": round(rss_index["VmRSS"]),
        "rss_with_model_mb": round(rss_model["VmRSS"] + rss_model_process),
        "rss_model_process_mb": round(rss_model_process),
        "add_1000_s": round(add_s, 3),
        "runtime": embedder.runtime,
        "approximate": index.approximate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=60)
    parser.add_argument("--phase", choices=["all", "prepare", "build", "load"], default="all")
    parser.add_argument("--model-process", action="store_true", help="run the model in its own process, as the window does")
    args = parser.parse_args()

    weights = vit_b32_checkpoint()
    if args.phase == "prepare":
        print(json.dumps(phase_prepare(args.photos, weights)))
        return
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

    fresh("prepare")
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
            "add_1000_photos_catalog_and_index_s": load["add_1000_s"],
            "model_runtime": load["runtime"],
            "cores": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
