"""Indexing speed: end to end vs the machine's limit, and re-indexing an unchanged library.

throughput: the limit is computed from the same run's decode-only and model-only costs,
measured single-threaded (CPU seconds of work per photo), spread over all cores:
    limit = cores / (decode_s + model_s)        [photos/s]
On a GPU (--device cuda) the cores only decode and the GPU runs the model, so the limit is the
slower of the two: min(cores / decode_s, 1 / model_s), model_s being the GPU's wall time per
photo in the pipeline's batches of 64 (the copy to the GPU and back included).
End to end is a real `Library.index()` on a fresh catalog (scan excluded, model load excluded).
The decode cost is the pipeline's own per-photo work (fingerprint, decode, perceptual hash,
pixel signature, preprocess). Until 2026-11-27 it left out the hash and the signature: 4-38 %
of a decode's CPU in this machine's runs, a limit set too high (against us) by under 3 % on a
CPU, where decoding is under a tenth of a photo's work, and by as much on a GPU.

decode: decoding alone, the same per-photo work, on N threads (as the pipeline decodes) and on
N processes, against N / decode_s: how far the GIL lets decode threads scale on this machine.

rescan: a library of N small generated files, indexed once (vectors written straight into the
catalog: embedding 100,000 files is not what is measured), then `photosearch index` run again
as a user would, in a fresh process, timed wall to wall.

    python scripts/bench_index.py throughput --photos small --count 300
    python scripts/bench_index.py throughput --photos 12mp --count 40
    python scripts/bench_index.py throughput --photos small --count 300 --runtime torch   # ONNX Runtime is the default on a CPU
    python scripts/bench_index.py throughput --photos small --count 300 --model-process
    python scripts/bench_index.py throughput --photos small --count 3000 --device cuda
    python scripts/bench_index.py decode --photos small --count 3000 --workers 8 --workers 16
    python scripts/bench_index.py rescan --files 100000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import benchutil  # noqa: F401  (puts the package on sys.path)
import numpy as np
from PIL import Image
from whitebox import catalog_of, use_embedder

SHARED = Path(os.environ.get("PHOTOSEARCH_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
WORK = Path(tempfile.gettempdir()) / "photosearch-bench"


def _sources() -> list[Path]:
    for sub in ("ukbench-dev/images", "library-dev/photos"):
        found = sorted((SHARED / "data" / sub).rglob("*.jpg"))
        if found:
            return found
    return []


def small_photos(count: int) -> list[Path]:
    """Real 320x240 UKBench photos when available (past their number, each again shifted and
    mirrored: other bytes and pixels, the same work), else generated pictures of that size."""
    real = _sources()
    if real and real[0].parent.name == "images":
        return real[:count] + _variants(real, count - len(real))
    out = WORK / "small"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        p = out / f"s{i:05d}.jpg"
        if not p.exists():
            Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(p, quality=90)
        paths.append(p)
    return paths


def _variant(source: Path, n: int, dest: Path) -> None:
    im = Image.open(source).convert("RGB")
    shift = 1 + n % 8
    im = im.crop((shift, shift, im.width, im.height)).resize(im.size)
    (im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if n % 2 else im).save(dest, quality=90)


def _variants(real: list[Path], count: int) -> list[Path]:
    out = WORK / "small-variants"
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"v{i:06d}.jpg" for i in range(max(0, count))]
    _make(_variant, [(real[i % len(real)], i // len(real), p) for i, p in enumerate(paths)])
    return paths


def _camera_file(source: Path, i: int, dest: Path) -> None:
    im = Image.open(source).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(i).normal(0, 6, (3000, 4000, 3)).astype(np.int16)
    Image.fromarray(np.clip(np.asarray(im, dtype=np.int16) + noise, 0, 255).astype(np.uint8)).save(dest, quality=92)


def _make(make_one: Callable[..., None], jobs: list[tuple]) -> None:  # type: ignore[type-arg]
    """``make_one(*job)`` for each job whose file (its last item) is missing, on every core: a
    camera-size file takes about a second to make."""
    missing = [job for job in jobs if not job[-1].exists()]
    if missing:
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(make_one, *zip(*missing, strict=True)))


def twelve_mp_photos(count: int) -> list[Path]:
    """4000x3000 JPEGs made from real photos, upscaled, with sensor-like noise so they
    compress like camera files (3-5 MB) rather than like smooth upscales."""
    out = WORK / "12mp"
    out.mkdir(parents=True, exist_ok=True)
    sources = _sources() or small_photos(count)
    paths = [out / f"m{i:04d}.jpg" for i in range(count)]
    _make(_camera_file, [(sources[i % len(sources)], i, p) for i, p in enumerate(paths)])
    return paths


def _model_one_thread(embedder, arrays: list[np.ndarray], batch_size: int | None) -> tuple[float, int, int]:  # type: ignore[no-untyped-def]
    """The CPU work of inference per photo, on one thread, on the runtime indexing uses; and the
    threads and batch size indexing uses."""
    cores = os.cpu_count() or 1
    if embedder.runtime == "onnx":
        from photosearch_desktop.engine.models.onnx_embedder import OnnxEmbedder

        one_thread = OnnxEmbedder(embedder.graphs, threads=1)
        default_threads = cores
    else:
        import torch

        default_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        one_thread = embedder
    batch = batch_size or embedder.cpu_batch_size
    one_thread.encode_arrays(np.stack(arrays[:batch]))  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(arrays), batch):
        one_thread.encode_arrays(np.stack(arrays[i : i + batch]))
    model_s = (time.perf_counter() - t0) / len(arrays)
    if embedder.runtime != "onnx":
        torch.set_num_threads(default_threads)
    return model_s, default_threads, batch


def throughput(args: argparse.Namespace) -> None:
    from photosearch_desktop.engine.embed import pipeline
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.models.factory import create_embedder
    from photosearch_desktop.engine.records import PipelineOptions

    photos = small_photos(args.count) if args.photos == "small" else twelve_mp_photos(args.count)
    cores = os.cpu_count() or 1
    on_gpu = args.device != "cpu"
    embedder = create_embedder(args.model, device=args.device, runtime=args.runtime)

    # Decode-only: the pipeline's own per-photo work (fingerprint, decode, perceptual hash, pixel
    # signature, preprocess), so the limit counts everything a decode thread does.
    arrays = []
    t0 = time.thread_time()
    for i, p in enumerate(photos):
        arrays.append(pipeline._decode(p.parent, i, p.name, embedder).array)
    decode_s = (time.thread_time() - t0) / len(photos)

    if on_gpu:
        batch = args.batch_size or 64
        embedder.encode_arrays(np.stack(arrays[:batch]))  # warm-up: kernels load, cuDNN chooses
        t0 = time.perf_counter()
        for i in range(0, len(arrays), batch):
            embedder.encode_arrays(np.stack(arrays[i : i + batch]))  # returns on the CPU: synchronised
        model_s = (time.perf_counter() - t0) / len(arrays)
        limit = min(cores / decode_s, 1 / model_s)
        default_threads = cores
    else:
        model_s, default_threads, batch = _model_one_thread(embedder, arrays, args.batch_size)
        limit = cores / (decode_s + model_s)

    # End to end through the real pipeline, on a copy so the catalog is fresh.
    lib_dir = WORK / f"lib-{args.photos}"
    shutil.rmtree(lib_dir, ignore_errors=True)
    lib_dir.mkdir(parents=True)
    for p in photos:
        os.symlink(p, lib_dir / p.name)
    data_dir = WORK / f"data-{args.photos}"
    shutil.rmtree(data_dir, ignore_errors=True)
    lib = Library(
        lib_dir, data_dir=data_dir, model=args.model, device=args.device, model_process=args.model_process,
        runtime=args.runtime,
    )
    if not args.model_process:
        use_embedder(lib, embedder)  # already loaded: model load is not indexing
    options = PipelineOptions(batch_size=batch, **({"decode_workers": args.workers} if args.workers else {}))
    # The model as the run uses it, loaded before timing (with --model-process, in its process,
    # as the window starts it at start-up): on ONNX Runtime a session keeps its thread count,
    # and until 2026-11-27 the run's first batch loaded its one-thread session inside the timed
    # run (efficientnet-lite2: 6-61 ms, up to 3 % of a 40-photo 12 MP run).
    indexing = lib.embedder()
    _, threads, first = pipeline.stream_plan(indexing, options)
    with indexing.cpu_threads(threads):
        indexing.encode_arrays(np.stack(arrays[:first]))
    marks: dict[str, float] = {}

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.phase == "embedding":
            marks.setdefault("start", time.perf_counter())
        elif p.phase == "finishing":
            marks["end"] = time.perf_counter()

    report = lib.index(progress=progress, options=options)
    e2e = report.embedded / (marks["end"] - marks["start"])
    lib.close()

    row = {
        "photos": f"{args.photos} ({Image.open(photos[0]).size[0]}x{Image.open(photos[0]).size[1]})",
        "count": len(photos),
        "model": f"{args.model} on {embedder.runtime} ({embedder.device})" + (" (own process)" if args.model_process else ""),
        "decode_ms": decode_s * 1000,
        ("model_ms_gpu" if on_gpu else "model_ms_1thread"): model_s * 1000,
        "limit_img_s": limit,
        "end_to_end_img_s": e2e,
        "of_limit": e2e / limit,
    }
    benchutil.report(
        "bench_index throughput",
        [row],
        {
            "settings": {"batch_size": batch, "decode_workers": options.decode_workers, "runtime": embedder.runtime,
                         "intra_op_threads": default_threads},
            "note": "limit = min(cores / decode CPU s, 1 / model GPU s per photo)" if on_gpu else
                    "limit = cores / (decode CPU s + model CPU s per photo), both measured single-threaded in this run",
        },
    )


@dataclass(frozen=True)
class _Preparer:
    """What the pipeline's decode needs of a model (its input size and preprocessing), without
    loading one; picklable, for the process pool."""

    input_size: int
    preprocess: Callable[[Image.Image], np.ndarray]


def _decode_chunk(preparer: _Preparer, paths: list[Path]) -> int:
    from photosearch_desktop.engine.embed import pipeline

    for i, p in enumerate(paths):
        pipeline._decode(p.parent, i, p.name, preparer)  # type: ignore[arg-type]
    return len(paths)


def decode_scaling(args: argparse.Namespace) -> None:
    """Decoding alone (the pipeline's per-photo work, no model) on N threads, as the pipeline
    decodes, and on N processes, against N / decode_s: where the threads fall short of the
    processes, the GIL holds the decode threads back."""
    from photosearch_desktop.engine.embed import pipeline
    from photosearch_desktop.engine.models.preprocess import EfficientNetPreprocess

    photos = small_photos(args.count) if args.photos == "small" else twelve_mp_photos(args.count)
    preparer = _Preparer(260, EfficientNetPreprocess(260))
    _decode_chunk(preparer, photos)  # files read once: the runs below compare CPU, not the disk
    t0 = time.thread_time()
    _decode_chunk(preparer, photos)
    decode_s = (time.thread_time() - t0) / len(photos)
    rows = []
    for n in args.workers or [os.cpu_count() or 1]:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as threads:
            list(threads.map(lambda p: pipeline._decode(p.parent, 0, p.name, preparer), photos))  # type: ignore[arg-type]
        threaded = len(photos) / (time.perf_counter() - t0)
        chunks = [photos[i : i + 16] for i in range(0, len(photos), 16)]
        with ProcessPoolExecutor(max_workers=n) as procs:
            list(procs.map(_decode_chunk, [preparer] * n, [[]] * n))  # workers started and imported
            t0 = time.perf_counter()
            list(procs.map(_decode_chunk, [preparer] * len(chunks), chunks))
            processes = len(photos) / (time.perf_counter() - t0)
        limit = n / decode_s
        rows.append({
            "photos": args.photos, "count": len(photos), "workers": n, "decode_ms": decode_s * 1000,
            "limit_img_s": limit, "threads_img_s": threaded, "threads_of_limit": threaded / limit,
            "processes_img_s": processes, "processes_of_limit": processes / limit,
        })
    benchutil.report("bench_index decode", rows, {"note": "limit = workers / decode CPU s per photo (one thread)"})


def rescan(args: argparse.Namespace) -> None:
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import PhotoMeta

    root = WORK / f"rescan-{args.files}"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        WORK.mkdir(parents=True, exist_ok=True)
        buf = WORK / "tiny.jpg"
        Image.new("RGB", (8, 8), (120, 80, 40)).save(buf)
        data = buf.read_bytes()
        for i in range(args.files):
            d = root / f"{i // 1000:03d}" / f"{(i // 100) % 10}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"IMG_{i:06d}.jpg").write_bytes(data)
        (root / ".complete").write_text("")  # hidden: not part of the library
    data_dir = WORK / f"rescan-data-{args.files}"
    shutil.rmtree(data_dir, ignore_errors=True)
    lib = Library(root, data_dir=data_dir, model="efficientnet-lite2")
    from photosearch_desktop.engine.scan.changes import detect_changes
    from photosearch_desktop.engine.scan.scanner import scan_library

    t0 = time.perf_counter()
    scan = scan_library(root)
    first_scan = time.perf_counter() - t0
    changes = detect_changes(root, scan, {})
    catalog_of(lib).apply_changes(changes.new, [], [], [], [])
    catalog_of(lib).set_model("efficientnet-lite2", "bench-vectors", 1280)
    rng = np.random.default_rng(0)
    pending = catalog_of(lib).pending()
    for i in range(0, len(pending), 5000):
        chunk = pending[i : i + 5000]
        vecs = rng.standard_normal((len(chunk), 1280)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        catalog_of(lib).store_batch([(pid, v, PhotoMeta(8, 8), None) for (pid, _), v in zip(chunk, vecs, strict=True)], [])
    lib.close()

    env = {**os.environ, "PHOTOSEARCH_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "photosearch_desktop", "index", str(root), "-q"]
    walls = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t0)
    assert f"{args.files} unchanged" in out.stdout, out.stdout
    benchutil.report(
        "bench_index rescan (unchanged library)",
        [
            {
                "files": args.files,
                "first_scan_s": first_scan,
                "reindex_cli_wall_s_median": float(np.median(walls)),
                "reindex_cli_wall_s_max": max(walls),
                "runs": args.repeat,
            }
        ],
        {"note": "wall time of `photosearch index LIB` in a fresh process, Python start-up and imports included"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--photos", choices=["small", "12mp"], default="small")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--model", default="efficientnet-lite2")
    p.add_argument("--batch-size", type=int, help="default: the model's cpu_batch_size")
    p.add_argument("--workers", type=int)
    p.add_argument("--model-process", action="store_true", help="run the model in its own process, as the window does")
    p.add_argument("--runtime", choices=["auto", "onnx", "torch"], default="auto", help="what runs the model (default: as the app picks)")
    p.add_argument("--device", default="cpu", help="cpu (default), or cuda: the GPU runs the model, the cores decode")
    p = sub.add_parser("decode", help="decoding alone on N threads and on N processes")
    p.add_argument("--photos", choices=["small", "12mp"], default="small")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--workers", type=int, action="append", help="may repeat (default: one per core)")
    p = sub.add_parser("rescan")
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    {"throughput": throughput, "decode": decode_scaling, "rescan": rescan}[args.what](args)


if __name__ == "__main__":
    main()
