"""Search latency, plain vs collapsed (copies folded), on a library made by `bench_dupes.py speed`.

    PYTHONPATH=$PWD flock -x /tmp/ps-cpu.lock .venv/bin/python scripts/bench_collapse.py --photos 100000

The library (files, catalog, index) is the one `bench_dupes.py speed --photos N` generated and
indexed with the tiny random-weight CLIP, cached under $TMPDIR/photosearch-bench; make it with
that first. Every query is a stored photo's vector (50 photos, the same as `bench_dupes.py
speed`), one warm-up search each way, then each query plain and collapsed one after the
other: the median and 95th percentile of each, and of each query's extra time collapsed
(`paired_extra_*`: what folding adds to the same query, free of the machine's drift). `digest`
is a hash of every collapsed result list (the kept photos and what folds under each): two
versions of the code that fold alike print the same digest.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import benchutil
import numpy as np
from bench_dupes import WORK
from whitebox import catalog_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000, help="the speed library's size (default 100000)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    from tinyclip import make_tiny_clip

    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import SearchFilters

    root, data_dir = WORK / f"dupes-files-{args.photos}", WORK / f"dupes-files-data-{args.photos}"
    if not data_dir.exists():
        raise SystemExit(f"No library at {data_dir}: run scripts/bench_dupes.py speed --photos {args.photos} first")
    _, weights, config = make_tiny_clip(WORK / "tiny-clip")
    lib = Library(root, data_dir=data_dir, model=f"clip:{config}", weights=weights)
    catalog = catalog_of(lib)
    ids = catalog.filtered_ids(SearchFilters())
    rng = np.random.default_rng(0)
    _, queries = catalog.vectors(rng.choice(ids, size=min(args.queries, len(ids)), replace=False).tolist())
    queries = queries.astype(np.float32)
    rows = []
    digest = hashlib.sha256()
    for k in (5, 60):
        row: dict[str, object] = {"photos": len(ids), "k": k}
        modes = (("plain", SearchFilters()), ("collapsed", SearchFilters(collapse_duplicates=True)))
        times: dict[str, list[float]] = {name: [] for name, _ in modes}
        for _, filters in modes:
            lib.search_vector(queries[0], k, filters)  # warm
        # Each query both ways, one after the other: the machine's speed drifts over a run,
        # and a pair of searches a few milliseconds apart sees the same speed.
        for q in queries:
            for name, filters in modes:
                t = time.perf_counter()
                results = lib.search_vector(q, k, filters)
                times[name].append((time.perf_counter() - t) * 1000)
                if name == "collapsed":
                    digest.update(repr([(r.photo.id, [f.photo.id for f in r.folded]) for r in results]).encode())
        for name, _ in modes:
            row[f"{name}_median_ms"] = round(float(np.median(times[name])), 2)
            row[f"{name}_p95_ms"] = round(float(np.percentile(times[name], 95)), 2)
        row["collapsed_minus_plain_ms"] = round(float(row["collapsed_median_ms"]) - float(row["plain_median_ms"]), 2)  # type: ignore[arg-type]
        extra = np.subtract(times["collapsed"], times["plain"])
        row["paired_extra_median_ms"] = round(float(np.median(extra)), 2)
        row["paired_extra_p95_ms"] = round(float(np.percentile(extra, 95)), 2)
        rows.append(row)
    lib.close()
    benchutil.report("search latency, plain vs collapsed", rows, {"queries": len(queries), "digest": digest.hexdigest()[:16],
                                                                   "target": "collapsed within 10 ms of plain"}, args.json_out)


if __name__ == "__main__":
    main()
