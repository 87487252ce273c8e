"""Long run: index 20,000 generated photos in one run and watch the process's memory.

A thread samples the resident set size (VmRSS from /proc/self/status) every second while
`Library.index()` runs in this process. Reported: RSS before the run (model loaded), at
warm-up (once 10 % of the photos are done: every thread, buffer and batch exists by then),
at the end, the maximum, and the drift after warm-up, both raw and after taking off what
the run must keep (the vector index grows by 4 bytes per dimension per photo). A leak shows
as a drift that keeps growing with the photo count: target < 5 %. After indexing, a few
thousand searches run and are sampled the same way.

    python scripts/soak_test.py                                  # 20,000 photos, tiny CLIP
    python scripts/soak_test.py --model efficientnet-lite2 --photos 2000

Models: ``tiny-clip`` is open_clip's real code path with a tiny random-weight architecture
(about 1,000 photos/s here, so 20,000 photos take minutes): right for a leak test, which is
about the pipeline, the catalog and the index, not the network's arithmetic.
``efficientnet-lite2`` is the real shipped model (about 20 photos/s on 2 cores): run it
shorter. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from multiprocessing import Pool
from pathlib import Path

import benchutil  # noqa: F401  (puts the package on sys.path)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "helpers"))

import numpy as np  # noqa: E402
from tinyclip import make_tiny_clip  # noqa: E402
from whitebox import catalog_of  # noqa: E402

PER_FOLDER = 500


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _write(args: tuple[Path, int, int, int]) -> None:
    from libgen import write_photo

    root, start, stop, side = args
    for i in range(start, stop):
        path = root / f"f{i // PER_FOLDER:03d}" / f"p{i:06d}.jpg"
        if not path.exists():
            write_photo(path, seed=100_000 + i, size=(side, side * 3 // 4))


def generate(root: Path, count: int, side: int) -> float:
    """``count`` distinct small JPEGs (``side`` x 3/4 side), written by every core."""
    t = time.perf_counter()
    chunks = [(root, s, min(count, s + 250), side) for s in range(0, count, 250)]
    with Pool(os.cpu_count() or 1) as pool:
        pool.map(_write, chunks)
    return time.perf_counter() - t


class Sampler(threading.Thread):
    """RSS every ``interval`` s, with how many photos were done then."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval = interval
        self.done = 0
        self.samples: list[tuple[float, int, int]] = []  # (seconds, photos done, RSS kB)
        self._halt = threading.Event()
        self._t0 = time.perf_counter()

    def sample(self) -> None:
        self.samples.append((time.perf_counter() - self._t0, self.done, rss_kb()))

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def _mb(kb: float) -> float:
    return round(kb / 1024, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--model", choices=("tiny-clip", "efficientnet-lite2"), default="tiny-clip")
    parser.add_argument("--side", type=int, default=160, help="photo width in pixels (height is 3/4 of it)")
    parser.add_argument("--searches", type=int, default=3000, help="searches after indexing (0: none)")
    parser.add_argument("--work", type=Path, help="keep the generated photos here (reused by the next run)")
    parser.add_argument("--json", type=Path, help="also write the JSON document here")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="photosearch-soak-"))
    root = work / f"photos-{args.side}px-{args.photos}"  # exactly --photos photos, reused by a later run
    data = work / f"data-{args.model}"
    shutil.rmtree(data, ignore_errors=True)
    try:
        print(f"generating {args.photos} photos in {root} ...", flush=True)
        gen_s = generate(root, args.photos, args.side)
        print(f"  {gen_s:.0f} s", flush=True)

        from photosearch_desktop.engine.library import Library
        from photosearch_desktop.engine.records import PipelineOptions

        weights = None
        if args.model == "tiny-clip":
            model, weights, _ = make_tiny_clip(work)
        else:
            model = "efficientnet-lite2"

        lib = Library(root, data_dir=data, model=model, weights=weights)
        embedder = lib.embedder()
        sampler = Sampler()
        rss_before = rss_kb()

        def progress(p) -> None:  # type: ignore[no-untyped-def]
            sampler.done = p.done

        print(f"indexing with {model} (dim {embedder.dim}) ...", flush=True)
        sampler.start()
        t = time.perf_counter()
        report = lib.index(progress=progress, options=PipelineOptions())
        index_s = time.perf_counter() - t
        sampler.stop()
        samples = sampler.samples
        counts = catalog_of(lib).counts()
        consistent = catalog_of(lib).consistency_problems() == []

        n = args.photos
        warm_at = n // 10
        warm = next((s for s in samples if s[1] >= warm_at), samples[0])
        end = samples[-1]
        peak = max(s[2] for s in samples)
        index_kb = (end[1] - warm[1]) * embedder.dim * 4 / 1024  # float32 vectors the index must hold
        drift = (end[2] - warm[2]) / warm[2]
        drift_net = (end[2] - warm[2] - index_kb) / warm[2]
        after = [s for s in samples if s[1] >= warm_at]
        # RSS swings with each batch's activations: compare means over 10 % windows too.
        early_win = [s for s in samples if warm_at <= s[1] < 2 * warm_at] or [warm]
        late_win = [s for s in samples if s[1] >= n - warm_at] or [end]
        early_mean, late_mean = float(np.mean([s[2] for s in early_win])), float(np.mean([s[2] for s in late_win]))
        grown = float(np.mean([s[1] for s in late_win]) - np.mean([s[1] for s in early_win]))
        index_kb_win = grown * embedder.dim * 4 / 1024
        slope = float(np.polyfit([s[1] for s in after], [s[2] for s in after], 1)[0]) * 1000 if len(after) > 2 else 0.0

        search_rows: dict[str, object] = {}
        if args.searches and counts["indexed"]:
            ids = [k.id for k in catalog_of(lib).known_files().values() if k.status == "indexed"]
            rng = np.random.default_rng(0)
            lib.search_photo(ids[0], k=20)
            s0 = rss_kb()
            t = time.perf_counter()
            mid = s0
            for i, pid in enumerate(rng.choice(ids, args.searches)):
                lib.search_photo(int(pid), k=20)
                if i == args.searches // 10:
                    mid = rss_kb()
            search_s = time.perf_counter() - t
            s1 = rss_kb()
            search_rows = {
                "searches": args.searches,
                "search_ms": round(1000 * search_s / args.searches, 2),
                "search_rss_start_mb": _mb(s0),
                "search_rss_after_10pct_mb": _mb(mid),
                "search_rss_end_mb": _mb(s1),
                "search_drift_after_10pct_pct": round(100 * (s1 - mid) / mid, 2),
            }
        lib.close()

        rows = []
        for pct in range(0, 101, 10):
            want = n * pct // 100
            s = next((x for x in samples if x[1] >= want), samples[-1])
            rows.append({"photos_done": s[1], "elapsed_s": round(s[0], 1), "rss_mb": _mb(s[2])})
        summary = {
            "model": model,
            "dim": embedder.dim,
            "photos": n,
            "photo_size": f"{args.side}x{args.side * 3 // 4}",
            "generate_s": round(gen_s, 1),
            "index_s": round(index_s, 1),
            "photos_per_s": round(report.embedded / index_s, 1),
            "embedded": report.embedded,
            "skipped": report.skipped,
            "all_indexed": counts["indexed"] == n and counts["pending"] == 0,
            "consistent": consistent,
            "samples": len(samples),
            "rss_before_mb": _mb(rss_before),
            "rss_warm_mb": _mb(warm[2]),
            "warm_at_photos": warm[1],
            "rss_end_mb": _mb(end[2]),
            "rss_max_mb": _mb(peak),
            "drift_after_warmup_pct": round(100 * drift, 2),
            "index_growth_mb": _mb(index_kb),
            "drift_without_index_pct": round(100 * drift_net, 2),
            "rss_mean_10_20pct_mb": _mb(early_mean),
            "rss_mean_90_100pct_mb": _mb(late_mean),
            "drift_of_means_without_index_pct": round(100 * (late_mean - early_mean - index_kb_win) / early_mean, 2),
            "slope_kb_per_1000_photos": round(slope, 1),
            "leak_target_met": drift_net < 0.05 and (late_mean - early_mean - index_kb_win) / early_mean < 0.05,
            **search_rows,
        }
        raw = [[round(t, 1), done, _mb(kb)] for t, done, kb in samples]
        benchutil.report(
            f"Soak: {n} photos in one run, {model}, RSS every second", rows,
            {"summary": summary, "samples_s_done_rssmb": raw}, args.json,
        )
        print("\n" + "\n".join(f"{k:32s} {v}" for k, v in summary.items()))
        return 0 if summary["all_indexed"] and consistent else 1
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
