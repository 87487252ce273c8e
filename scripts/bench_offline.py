"""A library that goes offline and comes back, and a library that moved, at 100,000 photos.

The library: N small generated files (a tiny JPEG with a unique tail, so every fingerprint
differs) in 100 top-level folders, indexed once with vectors written straight into the catalog
(1280-d, efficientnet-lite2's size: embedding 100,000 files is not what is measured), then its
vector cache built by a first `photosearch index`. Every figure is then the wall time of a
`photosearch` command in a fresh process (Python start-up and imports included), as a person
runs it, and the run's own time from its --json report:

- unchanged: an update that finds nothing changed (what every update costs anyway);
- offline:   the library folder emptied (a drive's mount point while it is unplugged), then
             `index`: every photo is kept offline, none deleted;
- return:    the files back, then `index`: every photo back, none embedded again;
- relink:    the folder moved, then `index NEW --relink` (finds the moved library, moves its
             index, updates: 0 embedded), and `relink OLD NEW` alone;
- migrate:   opening a catalog of the previous schema (v4) once: the offline flag and the
             re-made indexes (in-process).

Each cycle is run --repeat times; medians and maxima are printed.

    python scripts/bench_offline.py --photos 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchutil
import numpy as np
from PIL import Image
from whitebox import catalog_of

WORK = Path(tempfile.gettempdir()) / "photosearch-bench"
MODEL, DIM = "efficientnet-lite2", 1280


def build(n: int) -> tuple[Path, Path]:
    """The library's files (kept between runs) and a fresh data folder with its catalog."""
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import PhotoMeta
    from photosearch_desktop.engine.scan.changes import detect_changes
    from photosearch_desktop.engine.scan.fingerprint import fingerprint
    from photosearch_desktop.engine.scan.scanner import scan_library

    root = WORK / f"offline-lib-{n}"
    for stray in (WORK / f"offline-lib-{n}-away", WORK / f"offline-lib-{n}-moved"):
        if stray.exists():  # left by an interrupted run
            shutil.rmtree(root, ignore_errors=True)
            stray.rename(root)
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        WORK.mkdir(parents=True, exist_ok=True)
        buf = WORK / "tiny.jpg"
        Image.new("RGB", (8, 8), (120, 80, 40)).save(buf)
        data = buf.read_bytes()
        for i in range(n):
            d = root / f"{i // (n // 100):03d}" / f"{(i // 100) % 10}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"IMG_{i:07d}.jpg").write_bytes(data + i.to_bytes(8, "little"))  # decoders ignore the tail
        (root / ".complete").write_text("")  # hidden: not part of the library
    data_dir = WORK / f"offline-data-{n}"
    shutil.rmtree(data_dir, ignore_errors=True)
    lib = Library(root, data_dir=data_dir, model=MODEL)
    catalog = catalog_of(lib)
    scan = scan_library(root)
    catalog.apply_changes(detect_changes(root, scan, {}).new, [], [], [], [])
    catalog.set_model(MODEL, "bench-vectors", DIM)
    rng = np.random.default_rng(0)
    pending = catalog.pending()
    for i in range(0, len(pending), 5000):
        chunk = pending[i : i + 5000]
        vecs = rng.standard_normal((len(chunk), DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        catalog.store_batch(
            [(pid, v, PhotoMeta(8, 8), fingerprint(root / rel)) for (pid, rel), v in zip(chunk, vecs, strict=True)], []
        )
    lib.close()
    return root, data_dir


def cli(data_dir: Path, *args: str) -> tuple[float, dict[str, Any]]:
    """Wall seconds of one `photosearch` command in a fresh process, and its JSON output."""
    env = {**os.environ, "PHOTOSEARCH_DATA_DIR": str(data_dir), "PYTHONPATH": str(benchutil.REPO)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "photosearch_desktop", *args, "--json"], env=env,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"photosearch {' '.join(args)} failed: {out.stderr}")
    return wall, json.loads(out.stdout)


def migrate_seconds(data_dir: Path) -> float:
    """Open a copy of the catalog turned back into schema v4: the one-time upgrade."""
    from photosearch_desktop.engine.store.catalog import Catalog

    [src] = list(data_dir.glob("libraries/*/catalog.sqlite"))
    copy = WORK / "offline-migrate.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(src) as conn:
        conn.execute(f"VACUUM INTO '{copy}'")
    with sqlite3.connect(copy) as conn:
        conn.executescript(
            "DROP INDEX photos_offline; DROP INDEX photos_folder; DROP INDEX photos_status_folder; "
            "DROP INDEX photos_status_taken_at; ALTER TABLE photos DROP COLUMN offline; "
            "CREATE INDEX photos_folder ON photos(folder); "
            "CREATE INDEX photos_status_folder ON photos(status, folder, taken_at, taken_source); "
            "CREATE INDEX photos_status_taken_at ON photos(status, taken_at, taken_source); PRAGMA user_version = 4;"
        )
    t0 = time.perf_counter()
    Catalog(copy).close()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.photos
    t0 = time.perf_counter()
    root, data_dir = build(n)
    build_s = time.perf_counter() - t0
    cli(data_dir, "index", str(root), "-q")  # builds and saves the vector cache once
    away, moved = root.with_name(root.name + "-away"), root.with_name(root.name + "-moved")
    figures: dict[str, list[float]] = {}

    def record(name: str, wall: float, report: dict[str, Any]) -> None:
        figures.setdefault(f"{name}_cli_wall_s", []).append(wall)
        if "seconds" in report:
            figures.setdefault(f"{name}_run_s", []).append(report["seconds"])

    for _ in range(args.repeat):
        wall, rep = cli(data_dir, "index", str(root), "-q")
        assert rep["unchanged"] == n and rep["embedded"] == 0, rep
        record("unchanged", wall, rep)

        root.rename(away)
        root.mkdir()  # the mount point while the drive is away
        wall, rep = cli(data_dir, "index", str(root), "-q")
        assert (rep["offline"], rep["deleted"], rep["totals"]["offline"]) == (n, 0, n), rep
        record("offline", wall, rep)

        root.rmdir()
        away.rename(root)
        wall, rep = cli(data_dir, "index", str(root), "-q")
        assert (rep["returned"], rep["embedded"], rep["added"], rep["totals"]["indexed"]) == (n, 0, 0, n), rep
        record("return", wall, rep)

        root.rename(moved)
        wall, rep = cli(data_dir, "index", str(moved), "-q", "--relink")
        assert (rep["embedded"], rep["added"], rep["deleted"], rep["unchanged"]) == (0, 0, 0, n), rep
        record("relink_and_update", wall, rep)
        moved.rename(root)
        wall, rep = cli(data_dir, "relink", str(moved), str(root))
        assert rep["photos"] == n, rep
        record("relink_command", wall, rep)

    wall, status = cli(data_dir, "status", str(root))
    assert status["indexed"] == n and status["offline"] == 0, status
    rows: list[dict[str, Any]] = []
    for phase in ("unchanged", "offline", "return", "relink_and_update", "relink_command"):
        walls, runs = figures[f"{phase}_cli_wall_s"], figures.get(f"{phase}_run_s", [])
        rows.append({
            "phase": phase,
            "photos": n,
            "cli_wall_s_median": round(float(np.median(walls)), 2),
            "cli_wall_s_max": round(max(walls), 2),
            "run_s_median": round(float(np.median(runs)), 2) if runs else None,
            "run_s_max": round(max(runs), 2) if runs else None,
        })
    rows.append({"phase": "migrate_v4_to_v5", "photos": n, "run_s_median": round(migrate_seconds(data_dir), 2)})
    benchutil.report(
        "bench_offline: offline, back, relinked",
        rows,
        {
            "runs": args.repeat,
            "build_s": round(build_s, 1),
            "note": "cli_wall: `photosearch ...` in a fresh process, start-up included; run: the index run's own "
            f"seconds (migrate: opening the catalog in-process); vectors {DIM}-d ({MODEL}), none embedded in any run",
        },
    )


if __name__ == "__main__":
    main()
