"""Crash safety: kill the indexer (SIGKILL) at random moments, then check nothing broke.

Each trial starts `photosearch index` in its own process and kills it at a random moment of
its run (from process start, so some kills land while starting, scanning or saving the
cache, most while embedding). Two kinds of run are killed in turn:

  fresh   a library indexed for the first time;
  update  an indexed library after new, edited, deleted and moved photos (the incremental path).

After each kill:
  1. the catalog opens, and `photosearch status --json` (a new process) answers, with totals
     that add up;
  2. Catalog.consistency_problems() is empty (no vector without a photo, no photo marked
     indexed without a vector, no vector of a photo not marked indexed);
  3. the FAISS cache is either fresh (its stamp matches the catalog) or rejected and rebuilt,
     and a search returns exactly what brute force over the catalog's vectors returns;
  4. the next `photosearch index` finishes the job: it embeds exactly the photos not yet done
     (fresh runs: its `embedded` equals what was pending or unscanned at the kill), redoes none
     of the finished ones, and every photo ends with the vector of its current content (checked
     against a clean run over every content used) and a fresh cache.

    python scripts/crash_test.py                     # 20 kills, 300 photos, tiny CLIP
    python scripts/crash_test.py --kills 5 --photos 100 --seed 3

The model is a tiny random-weight CLIP (open_clip's real code, loaded through --weights):
crash safety is about the catalog and the cache, not about what the vectors mean, and a
small model keeps each run a few seconds so the kills sample every phase.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import benchutil  # noqa: F401  (puts the package on sys.path)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "helpers"))

import numpy as np  # noqa: E402
from libgen import write_photo  # noqa: E402
from tinyclip import TINY_CLIP_NAME, make_tiny_clip  # noqa: E402
from whitebox import catalog_of, index_cache_of  # noqa: E402

DRIVER = """
import sys, open_clip
open_clip.add_model_config(sys.argv[1])
from photosearch_desktop.cli import main
sys.exit(main(sys.argv[2:]))
"""
PHOTO_SIZE = (480, 360)
EXTRA_POOL = 120  # contents for new and edited photos of the update runs
BROKEN = {"broken/random.jpg": b"\x13\x37" * 2000, "broken/empty.jpg": b""}


@dataclass
class Setup:
    work: Path
    config: Path
    weights: Path
    base: Path  # the library of the fresh runs (never modified)
    photos: int
    reference: dict[str, np.ndarray]  # sha256 of a file's bytes -> its vector in a clean run
    fresh_seconds: float = 0.0
    update_seconds: float = 0.0
    startup_seconds: float = 0.0  # process start to the catalog's creation (imports, model load)
    update_work: int = 0  # photos an update run embeds or skips
    update_template: Path | None = None  # data dir with the update library fully indexed
    resume_in_process: bool = False  # the CI test resumes in its own process (the kill is still real)


@dataclass
class Trial:
    n: int
    kind: str
    kill_at_s: float
    killed: bool = False
    phase: str = ""
    indexed_at_kill: int = 0
    pending_at_kill: int = 0
    cache_after_kill: str = ""
    search_ok: bool = False
    resumed_embedded: int = -1
    expected_embedded: int = -1
    redone: int = -1
    ok: bool = False
    problems: list[str] = field(default_factory=list)


# -- processes -----------------------------------------------------------------------------------


def _env(data: Path) -> dict[str, str]:
    return {**os.environ, "PHOTOSEARCH_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}


def _cli(setup: Setup, data: Path, *args: str | Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(setup.config), *map(str, args)],
        env=_env(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _index_args(setup: Setup, root: Path) -> list[str | Path]:
    return ["index", root, "--model", f"clip:{TINY_CLIP_NAME}", "--weights", setup.weights,
            "--batch-size", "8", "--commit-every", "24", "-q", "--json"]


def _index(setup: Setup, root: Path, data: Path) -> tuple[dict, float]:
    t = time.perf_counter()
    proc = _cli(setup, data, *_index_args(setup, root))
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"index failed ({proc.returncode}): {err.decode(errors='replace')}")
    return json.loads(out), time.perf_counter() - t


# -- libraries -------------------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_base(root: Path, photos: int) -> None:
    for i in range(photos):
        write_photo(root / f"album_{i % 6}" / f"img_{i:04d}.jpg", seed=20_000 + i, size=PHOTO_SIZE)
    for rel, data in BROKEN.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _apply_update(root: Path, rng: random.Random) -> None:
    """New, edited, deleted and moved photos, drawn from the extra pool."""
    files = sorted(p for p in root.rglob("img_*.jpg"))
    rng.shuffle(files)
    n = max(4, len(files) // 8)
    edited, deleted, moved = files[:n], files[n : 2 * n], files[2 * n : 3 * n]
    pool = rng.sample(range(EXTRA_POOL), 3 * n)
    for path, seed in zip(edited, pool[:n], strict=True):
        write_photo(path, seed=30_000 + seed, size=PHOTO_SIZE)
    for path in deleted:
        path.unlink()
    for path in moved:
        target = root / "moved" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    for i, seed in enumerate(pool[n:]):
        write_photo(root / "new" / f"new_{i:03d}.jpg", seed=30_000 + seed, size=PHOTO_SIZE)
    (root / "broken" / "late.jpg").write_bytes(b"not a photo at all" * 10)


def _vectors(catalog) -> dict[int, np.ndarray]:  # type: ignore[no-untyped-def]
    out: dict[int, np.ndarray] = {}
    if hasattr(catalog, "iter_vectors"):
        for ids, vecs in catalog.iter_vectors():
            out.update(zip(ids.tolist(), vecs, strict=True))
    else:
        ids, vecs = catalog.vectors()
        out.update(zip(ids.tolist(), vecs, strict=True))
    return out


def prepare(work: Path, photos: int, update: bool = True) -> Setup:
    _, weights, config = make_tiny_clip(work)
    base = work / "base"
    if base.exists():
        shutil.rmtree(base)
    _write_base(base, photos)

    # Every content a trial can hold, indexed once, cleanly: the expected vector of each file.
    ref = work / "reference"
    shutil.rmtree(ref, ignore_errors=True)
    shutil.copytree(base, ref)
    for seed in range(EXTRA_POOL if update else 0):
        write_photo(ref / "pool" / f"p{seed:03d}.jpg", seed=30_000 + seed, size=PHOTO_SIZE)
    setup = Setup(work, config, weights, base, photos, {})
    ref_data = work / "reference-data"
    shutil.rmtree(ref_data, ignore_errors=True)
    setup.startup_seconds, ref_seconds = _timed_index(setup, ref, ref_data)
    from photosearch_desktop.engine.library import Library

    with Library(ref, data_dir=ref_data) as lib:
        vecs = _vectors(catalog_of(lib))
        for rel, known in catalog_of(lib).known_files().items():
            if known.id in vecs:
                setup.reference[_sha(ref / rel)] = vecs[known.id]

    # How long each kind of run takes, to draw kill moments over the whole run.
    if not update:
        setup.fresh_seconds = ref_seconds  # the reference library is the base library then
        return setup
    setup.startup_seconds, setup.fresh_seconds = _timed_index(setup, base, work / "timing-fresh")
    update_root = work / "update"
    shutil.rmtree(update_root, ignore_errors=True)
    shutil.copytree(base, update_root)
    template = work / "update-template"
    shutil.rmtree(template, ignore_errors=True)
    _index(setup, update_root, template)
    setup.update_template = template
    timing = work / "timing-update"
    shutil.rmtree(timing, ignore_errors=True)
    shutil.copytree(template, timing)
    _apply_update(update_root, random.Random(-1))
    report, setup.update_seconds = _index(setup, update_root, timing)
    setup.update_work = report["embedded"] + report["skipped"]
    return setup


def _timed_index(setup: Setup, root: Path, data: Path) -> tuple[float, float]:
    """(seconds until the catalog file appears, seconds until the process exits) of a clean run."""
    shutil.rmtree(data, ignore_errors=True)
    t = time.perf_counter()
    proc = _cli(setup, data, *_index_args(setup, root))
    while proc.poll() is None and not list(data.glob("libraries/*/catalog.sqlite")):
        time.sleep(0.01)
    startup = time.perf_counter() - t
    _, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"index failed: {err.decode(errors='replace')}")
    return startup, time.perf_counter() - t


# -- one trial ---------------------------------------------------------------------------------


def _state(root: Path, data: Path) -> dict[str, tuple[int, str, int, int, float | None]]:
    """rel -> (id, status, size, mtime_ns, indexed_at) straight from the catalog file."""
    from photosearch_desktop.engine.system.paths import app_dirs

    path = app_dirs(data).library_dir(root) / "catalog.sqlite"
    if not path.exists():
        return {}
    from photosearch_desktop.engine.store.catalog import path_from_db

    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT rel_path, id, status, size, mtime_ns, indexed_at FROM photos").fetchall()
    except sqlite3.OperationalError:  # killed before the schema was committed
        rows = []
    conn.close()
    return {path_from_db(r[0]): (r[1], r[2], r[3], r[4], r[5]) for r in rows}


def _good_files(root: Path) -> dict[str, os.stat_result]:
    return {p.relative_to(root).as_posix(): p.stat() for p in root.rglob("*.jpg") if p.stat().st_size and "broken" not in p.parts}


def _check_search(lib, trial: Trial, files_exist: bool = True) -> bool:  # type: ignore[no-untyped-def]
    """A search through the library (cache or rebuild) equals brute force over the catalog.

    ``files_exist``: every result's file exists (not so after a kill that came before the
    update's scan was saved: photos deleted since the last complete run are still listed then,
    exactly as when no update has been run yet).
    """
    vecs = _vectors(catalog_of(lib))
    if not vecs:
        return True
    ids = sorted(vecs)
    for query_id in (ids[0], ids[len(ids) // 2], ids[-1]):
        got = lib.search_photo(query_id, k=10)
        scores = [r.score for r in got]
        if scores != sorted(scores, reverse=True):
            trial.problems.append("search scores not sorted")
            return False
        q = vecs[query_id] / np.linalg.norm(vecs[query_id])  # a query is a unit vector (query/compose.py)
        truth = sorted(((float(np.dot(v, q)), pid) for pid, v in vecs.items() if pid != query_id), reverse=True)[:10]
        if len(got) != len(truth):
            trial.problems.append(f"search returned {len(got)} results, brute force {len(truth)}")
            return False
        if not np.allclose([r.score for r in got], [s for s, _ in truth], atol=1e-4):
            trial.problems.append("search scores differ from brute force over the catalog")
            return False
        photos = {r.photo.id for r in got}
        if len(photos - {pid for _, pid in truth}) > 1:  # ties at the cut may swap one
            trial.problems.append("search results differ from brute force over the catalog")
            return False
        for r in got:
            if files_exist and not Path(r.abs_path).is_file():
                trial.problems.append(f"search returned a missing file {r.abs_path}")
                return False
    return True


def _cache_state(lib) -> str:  # type: ignore[no-untyped-def]
    try:
        from photosearch_desktop.engine.store.vector_index import VectorIndex

        if not index_cache_of(lib).path.exists():
            return "absent"
        cache = index_cache_of(lib)
        return "fresh" if VectorIndex.load(cache.path, cache._stamp()) is not None else "stale"
    except (AttributeError, TypeError) as exc:  # the cache API changed: the search check still runs
        return f"n/a ({type(exc).__name__})"


def _check_after_kill(setup: Setup, root: Path, data: Path, trial: Trial) -> dict:
    from photosearch_desktop.engine.library import Library

    state = _state(root, data)
    trial.indexed_at_kill = sum(1 for s in state.values() if s[1] == "indexed")
    trial.pending_at_kill = sum(1 for s in state.values() if s[1] == "pending")
    done = sum(1 for s in state.values() if s[1] != "pending")
    scanned = bool(state) and (trial.kind == "fresh" or any(rel.startswith("new/") for rel in state))
    if not scanned:
        trial.phase = "before the scan was saved"
    elif done == 0:
        trial.phase = "scanned, nothing embedded yet"
    elif trial.pending_at_kill:
        trial.phase = f"embedding ({done}/{len(state)} done)"
    else:
        trial.phase = "after the last commit"

    status = _cli(setup, data, "status", root, "--json")
    out, err = status.communicate(timeout=300)
    if status.returncode != 0:
        trial.problems.append(f"status failed: {err.decode(errors='replace').strip()}")
    else:
        st = json.loads(out)
        if st["total"] != st["indexed"] + st["pending"] + st["skipped_count"]:
            trial.problems.append(f"status totals do not add up: {st}")

    with Library(root, data_dir=data) as lib:
        problems = catalog_of(lib).consistency_problems()
        trial.problems += [f"after the kill: {p}" for p in problems]
        trial.cache_after_kill = _cache_state(lib)
        trial.search_ok = _check_search(lib, trial, files_exist=scanned) if lib.indexed_model else True
    return state


def _check_resume(setup: Setup, root: Path, data: Path, trial: Trial, before: dict) -> None:
    from photosearch_desktop.engine.library import Library

    files = _good_files(root)
    # Finished at the kill: indexed, at the same path, and the file unchanged since.
    finished = {
        rel for rel, (_, status, size, mtime, _) in before.items()
        if status == "indexed" and rel in files and (files[rel].st_size, files[rel].st_mtime_ns) == (size, mtime)
    }
    started = time.time()
    if setup.resume_in_process:
        from photosearch_desktop.engine.records import PipelineOptions

        with Library(root, data_dir=data, model=f"clip:{TINY_CLIP_NAME}", weights=setup.weights) as lib:
            trial.resumed_embedded = lib.index(options=PipelineOptions(batch_size=8, commit_every=24)).embedded
    else:
        report, _ = _index(setup, root, data)
        trial.resumed_embedded = report["embedded"]
    after = _state(root, data)
    redone = {rel for rel in finished if (after[rel][4] or 0) >= started}
    trial.redone = len(redone)
    if redone:
        trial.problems.append(f"finished photos embedded again: {sorted(redone)[:5]}")
    if trial.kind == "fresh":
        # Everything not finished at the kill (pending, or not even scanned yet) and nothing else.
        trial.expected_embedded = len(files) - len(finished)
        if trial.resumed_embedded != trial.expected_embedded:
            trial.problems.append(f"resumed run embedded {trial.resumed_embedded}, expected {trial.expected_embedded}")
    with Library(root, data_dir=data) as lib:
        trial.problems += [f"after the resume: {p}" for p in catalog_of(lib).consistency_problems()]
        counts = catalog_of(lib).counts()
        if counts["pending"]:
            trial.problems.append(f"{counts['pending']} photos still pending after the resume")
        vecs = _vectors(catalog_of(lib))
        known = catalog_of(lib).known_files()
        for rel in files:
            k = known.get(rel)
            if k is None or k.status != "indexed":
                trial.problems.append(f"{rel} is not indexed after the resume")
                continue
            expected = setup.reference.get(_sha(root / rel))
            if expected is None or not np.allclose(vecs[k.id], expected, atol=2e-3):
                trial.problems.append(f"{rel} does not have the vector of its content")
        broken = [rel for rel in known if rel.startswith("broken/")]
        if any(known[rel].status != "skipped" for rel in broken):
            trial.problems.append("a broken file is not marked skipped")
        if set(known) - set(files) - set(broken):
            trial.problems.append(f"catalog lists files that are gone: {sorted(set(known) - set(files) - set(broken))[:5]}")
        cache = _cache_state(lib)
        if cache not in ("fresh",) and not cache.startswith("n/a"):
            trial.problems.append(f"cache is {cache} after a completed run")
        if not _check_search(lib, trial):
            trial.problems.append("search after the resume differs from brute force")


def _wait_for_progress(proc: subprocess.Popen, catalog: Path, kind: str, total: int, target: int) -> None:
    """Return once the run has saved its scan and finished ``target`` of its ``total`` photos
    (polled from the catalog through a read-only connection), or has exited."""
    conn = None
    while proc.poll() is None:
        try:
            if conn is None and catalog.exists():
                conn = sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True, timeout=0.05)
            if conn is not None:
                if kind == "fresh":
                    scanned = conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0] > 0
                else:
                    scanned = conn.execute("SELECT EXISTS(SELECT 1 FROM photos WHERE rel_path LIKE 'new/%')").fetchone()[0]
                pending = conn.execute("SELECT COUNT(*) FROM photos WHERE status = 'pending'").fetchone()[0]
                if scanned and total - pending >= target:
                    break
        except sqlite3.Error:
            pass  # the schema is being created
        time.sleep(0.003)
    if conn is not None:
        conn.close()


def run_trial(setup: Setup, n: int, kind: str, early: bool, amount: float, extra_delay: float = 0.0) -> Trial:
    """One killed run. ``early``: kill ``amount`` seconds after the process starts (while it
    starts up). Otherwise kill once a fraction ``amount`` of the run's photos is done (read
    from the catalog), ``extra_delay`` seconds later: between two commits, or, at 1.0, while
    the cache is saved or the process exits."""
    trial = Trial(n, kind, 0.0)
    data = setup.work / f"data-{n:02d}"
    shutil.rmtree(data, ignore_errors=True)
    if kind == "fresh":
        root = setup.base
    else:
        root = setup.work / "update"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(setup.base, root)
        assert setup.update_template is not None
        shutil.copytree(setup.update_template, data)
        _apply_update(root, random.Random(n))
    from photosearch_desktop.engine.system.paths import app_dirs

    catalog = app_dirs(data).library_dir(root) / "catalog.sqlite"
    total = setup.photos + len(BROKEN) if kind == "fresh" else setup.update_work
    t0 = time.perf_counter()
    proc = _cli(setup, data, *_index_args(setup, root))
    if early:
        delay = amount
    else:
        _wait_for_progress(proc, catalog, kind, total, round(amount * total))
        delay = extra_delay
    deadline = time.perf_counter() + delay
    while time.perf_counter() < deadline and proc.poll() is None:
        time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        trial.killed = True
    trial.kill_at_s = round(time.perf_counter() - t0, 2)
    proc.communicate(timeout=60)
    if not trial.killed:
        return trial  # finished before the kill: the caller draws an earlier moment
    before = _check_after_kill(setup, root, data, trial)
    _check_resume(setup, root, data, trial, before)
    trial.ok = not trial.problems
    shutil.rmtree(data, ignore_errors=True)
    return trial


def run(kills: int, photos: int, seed: int, work: Path | None = None, moments: list[float] | None = None,
        kinds: tuple[str, ...] = ("fresh", "update"), resume_in_process: bool = False,
        log=print) -> tuple[Setup, list[Trial]]:  # type: ignore[no-untyped-def]
    """``kills`` trials; ``moments`` (fractions of a run) replaces the random draw.

    One kill in six comes at a random moment of the start-up (imports, model loading). The
    others come once a random share of the run's photos is done (0 %: right after the scan
    was saved; 100 %: while the cache is saved or the process exits), plus a random 0-50 ms so
    they fall anywhere between two commits: the moments follow the run's progress, not the
    clock, so a busy machine does not push them all to one end.
    """
    work = work or Path(tempfile.mkdtemp(prefix="photosearch-crash-"))
    log(f"preparing {photos} photos and the reference vectors in {work} ...")
    setup = prepare(work, photos, update="update" in kinds)
    setup.resume_in_process = resume_in_process
    log(f"a fresh run takes {setup.fresh_seconds:.1f} s (the catalog appears at {setup.startup_seconds:.1f} s), "
        f"an update run {setup.update_seconds:.1f} s (process start to exit)")
    rng = random.Random(seed)
    trials = []
    for n in range(kills):
        kind = kinds[n % len(kinds)]
        early = moments is None and rng.random() < 1 / 6
        fraction = moments[n] if moments else rng.random()
        extra = 0.0 if moments else rng.uniform(0.0, 0.05)
        for _ in range(6):
            amount = fraction * setup.startup_seconds if early else fraction
            trial = run_trial(setup, n, kind, early, amount, extra)
            if trial.killed:
                break
            extra *= 0.5  # the run ended before the kill: kill sooner
            fraction *= 0.8
        trials.append(trial)
        log(f"kill {n + 1:2d}/{kills} {kind:6s} at {trial.kill_at_s:5.2f} s  {trial.phase:32s} "
            f"cache {trial.cache_after_kill:6s} resumed {trial.resumed_embedded:4d} "
            f"(expected {trial.expected_embedded if trial.expected_embedded >= 0 else '-'}) redone {trial.redone}  "
            f"{'ok' if trial.ok else 'FAILED: ' + '; '.join(trial.problems[:3])}")
    return setup, trials


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one, removed at the end)")
    parser.add_argument("--json", type=Path, help="also write the JSON document here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="photosearch-crash-"))
    try:
        setup, trials = run(args.kills, args.photos, args.seed, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    passed = sum(t.ok for t in trials)
    rows = [
        {"kill": t.n + 1, "run": t.kind, "at_s": t.kill_at_s, "phase": t.phase, "indexed": t.indexed_at_kill,
         "pending": t.pending_at_kill, "cache": t.cache_after_kill, "resumed": t.resumed_embedded,
         "expected": t.expected_embedded if t.expected_embedded >= 0 else None, "redone": t.redone,
         "ok": "yes" if t.ok else "NO"}
        for t in trials
    ]
    benchutil.report(
        f"Crash safety: SIGKILL at {len(trials)} random moments, {passed}/{len(trials)} recovered",
        rows,
        {"passed": f"{passed}/{len(trials)}", "photos": args.photos, "seed": args.seed, "model": f"clip:{TINY_CLIP_NAME} (random weights)",
         "fresh_run_s": round(setup.fresh_seconds, 2), "update_run_s": round(setup.update_seconds, 2),
         "startup_s": round(setup.startup_seconds, 2),
         "failures": {t.n + 1: t.problems for t in trials if not t.ok}},
        args.json,
    )
    phases: dict[str, int] = {}
    for t in trials:
        key = t.phase.split(" (")[0]
        phases[key] = phases.get(key, 0) + 1
    print(f"\nkills by phase: {phases}")
    print(f"{passed}/{len(trials)} kills recovered")
    return 0 if passed == len(trials) else 1


if __name__ == "__main__":
    sys.exit(main())
