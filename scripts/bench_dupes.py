"""Near-duplicate detection: quality on Copydays-style copies, and speed at 100,000 photos.

quality: every photo of a folder (default ../shared/data/library-dev/photos) gets 12 copies,
as in INRIA Copydays: resized to 50% and 25%, JPEG quality 75/50/30, 10% and 25% of the
area cropped away (centred), brightness x1.3, contrast x0.7, rotated 5 degrees, a caption
written over it, mirrored. Originals, copies and unrelated distractors (default
../shared/data/ukbench-dev/images) go into one temporary library, indexed with
efficientnet-lite2, and the duplicate finder runs at the model's default threshold.

- pairs: (original, copy) and (copy, copy) of one original are the true pairs; a predicted
  pair is two photos in the same group. Precision and recall are given for the "mild" copies
  (resize, JPEG >= 50, crop 10%, brightness; targets P >= 0.99, R >= 0.95), for all copies,
  and per transform (originals + that transform's copies + distractors).
- neutral pairs count neither way: photos marked as one dup_group in the folder's
  manifest.csv (real near-duplicates already in library-dev: a stereo pair, a colour-filtered
  crop) with their copies, the pairs of SAME_SCENE (two shots of one scene, named in
  library-dev's SOURCE.md but not in its manifest), and two views of one UKBench object
  ("similar shots"; how many of those get grouped is reported).
- labels: share of grouped copy pairs (member vs keeper) labelled "same photo" or "identical
  file", and of grouped UKBench pairs labelled "similar shot" (targets >= 0.9 each); and the
  same for every (original, copy) pair and every UKBench same-object pair with the label
  function forced on them, grouped or not.
- calibration: precision and recall over a sweep of thresholds; the calibrated threshold is
  the one with the best recall (mild copies, then all copies) while precision (all copies)
  stays >= 0.99; among equals, the highest (the widest precision margin).

scale: a synthetic catalog of N random unit vectors with 1% of them given 1-3 planted
near-duplicates (cosine ~0.95); the finder (pairs + groups) runs in a fresh process, whose wall
time and peak RSS are reported. There are no files, so no pixel is compared; with
``--realistic`` the catalog is scripts/bench_search.py's (realistic vectors, CLIP threshold)
instead, and the count of pairs the pixel check would consider is reported too (each one
costs a decode or two and a comparison; perceptual hashes rule most of them out first).

    python scripts/bench_dupes.py                      # quality and scale
    python scripts/bench_dupes.py quality --photos DIR --distractors DIR
    python scripts/bench_dupes.py scale --photos 100000 --dim 512
    python scripts/bench_dupes.py scale --photos 100000 --realistic
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import benchutil
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps
from whitebox import catalog_of

SHARED = Path(os.environ.get("PHOTOSEARCH_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
WORK = Path(tempfile.gettempdir()) / "photosearch-bench"
MODEL = "efficientnet-lite2"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".heic"}


def _crop(removed: float) -> Callable[[Image.Image], Image.Image]:
    def crop(im: Image.Image) -> Image.Image:
        keep = math.sqrt(1 - removed)  # of each side, so that `removed` of the area goes
        w, h = im.size
        cw, ch = round(w * keep), round(h * keep)
        return im.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))

    return crop


def _caption(im: Image.Image) -> Image.Image:
    im = im.copy()
    font = ImageFont.load_default(size=max(12, im.height // 10))
    ImageDraw.Draw(im).text(
        (im.width // 20, im.height - im.height // 6), "Summer holiday 2019", fill="white", font=font,
        stroke_width=2, stroke_fill="black",
    )
    return im


def _scaled(f: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.LANCZOS)


# name: (transform, JPEG quality, mild)
TRANSFORMS: dict[str, tuple[Callable[[Image.Image], Image.Image], int, bool]] = {
    "resize50": (_scaled(0.5), 90, True),
    "resize25": (_scaled(0.25), 90, True),
    "jpeg75": (lambda im: im, 75, True),
    "jpeg50": (lambda im: im, 50, True),
    "jpeg30": (lambda im: im, 30, False),
    "crop10": (_crop(0.10), 90, True),
    "crop25": (_crop(0.25), 90, False),
    "brightness": (lambda im: ImageEnhance.Brightness(im).enhance(1.3), 90, True),
    "contrast": (lambda im: ImageEnhance.Contrast(im).enhance(0.7), 90, False),
    "rotate5": (lambda im: im.rotate(5, resample=Image.Resampling.BICUBIC), 90, False),
    "text": (_caption, 90, False),
    "flip": (ImageOps.mirror, 90, False),
}
MILD = {name for name, (_, _, mild) in TRANSFORMS.items() if mild}
# library-dev/SOURCE.md: "faces/2.jpg and faces/17.jpg also show the same people/scene" (the
# file is photoprism/faces/overlap_2.jpg): two shots a moment apart, a true similar shot.
SAME_SCENE = (("photoprism/faces/17.jpg", "photoprism/faces/overlap_2.jpg"),)


# -- the test library --------------------------------------------------------------------------


class Truth:
    """What each photo of the test library is: family (its original), transform, UKBench object."""

    def __init__(self) -> None:
        self.family: dict[str, str] = {}  # rel path -> original's key, for originals and copies
        self.transform: dict[str, str] = {}  # rel path -> transform name, or "original"
        self.ukbench: dict[str, str] = {}  # rel path -> UKBench object (distractors)
        self.linked: set[frozenset[str]] = set()  # families that are known duplicates of each other

    def kind(self, x: str, y: str) -> str:
        """'copy' (a true pair), 'neutral', or 'other'."""
        fx, fy = self.family.get(x), self.family.get(y)
        if fx is not None and fx == fy:
            return "copy"
        if fx is not None and fy is not None and frozenset((fx, fy)) in self.linked:
            return "neutral"
        ux, uy = self.ukbench.get(x), self.ukbench.get(y)
        if ux is not None and ux == uy:
            return "neutral"
        return "other"


def make_library(photos: Path, distractors: Path | None, root: Path) -> Truth:
    from photosearch_desktop.engine.errors import LoadError
    from photosearch_desktop.engine.media.loader import load_image

    truth = Truth()
    for src in sorted(p for p in photos.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        key = src.relative_to(photos).as_posix()
        try:
            image = load_image(src).image
        except LoadError as exc:
            print(f"skipping {key}: {exc}", file=sys.stderr)
            continue
        original = root / "originals" / key
        original.parent.mkdir(parents=True, exist_ok=True)
        if not original.exists():
            shutil.copyfile(src, original)
        truth.family[f"originals/{key}"], truth.transform[f"originals/{key}"] = key, "original"
        stem = Path(key).with_suffix("").as_posix()
        for name, (fn, quality, _) in TRANSFORMS.items():
            rel = f"copies/{stem}__{name}.jpg"
            if not (root / rel).exists():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                fn(image).save(root / rel, "JPEG", quality=quality)
            truth.family[rel], truth.transform[rel] = key, name
    manifest = photos.parent / "manifest.csv"
    if manifest.exists():
        by_group: dict[str, list[str]] = defaultdict(list)
        with open(manifest, newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("dup_group"):
                    by_group[row["dup_group"]].append(Path(row["filename"]).as_posix())
        for members in by_group.values():
            truth.linked |= {frozenset(p) for p in itertools.combinations(members, 2)}
    truth.linked |= {frozenset(pair) for pair in SAME_SCENE if all(p in truth.family.values() for p in pair)}
    if distractors is not None:
        groups_csv = distractors.parent / "groups.csv"
        groups = {}
        if groups_csv.exists():
            with open(groups_csv, newline="") as fh:
                groups = {row["filename"]: row["group_id"] for row in csv.DictReader(fh)}
        for src in sorted(p for p in distractors.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            rel = f"distractors/{src.name}"
            if not (root / rel).exists():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, root / rel)
            truth.ukbench[rel] = groups.get(src.name, src.name)
    return truth


# -- measuring ---------------------------------------------------------------------------------


def predicted_pairs(groups: list) -> set[frozenset[str]]:  # type: ignore[type-arg]
    out = set()
    for g in groups:
        paths = [p.rel_path for p in g.photos]
        out |= {frozenset(p) for p in itertools.combinations(paths, 2)}
    return out


def pair_scores(truth: Truth, predicted: set[frozenset[str]], transforms: set[str]) -> dict[str, float | int]:
    """Precision and recall over the photos of ``transforms`` (+ originals and distractors)."""
    keep = {p for p, t in truth.transform.items() if t == "original" or t in transforms} | set(truth.ukbench)
    families: dict[str, list[str]] = defaultdict(list)
    for p in keep:
        if p in truth.family:
            families[truth.family[p]].append(p)
    positives = sum(len(m) * (len(m) - 1) // 2 for m in families.values())
    tp = fp = neutral = 0
    for pair in predicted:
        x, y = tuple(pair)
        if x not in keep or y not in keep:
            continue
        kind = truth.kind(x, y)
        tp += kind == "copy"
        fp += kind == "other"
        neutral += kind == "neutral"
    return {
        "pairs": positives,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / positives if positives else 1.0,
        "false_pairs": fp,
        "neutral_grouped": neutral,
    }


def grouped_labels(truth: Truth, groups: list) -> tuple[dict[str, list[bool]], list[bool]]:  # type: ignore[type-arg]
    """Per transform: is each grouped copy labelled same photo / identical? And each grouped
    UKBench same-object member labelled similar shot?"""
    from photosearch_desktop.engine.records import IDENTICAL, SAME_PHOTO, SIMILAR_SHOT

    copies: dict[str, list[bool]] = defaultdict(list)
    views: list[bool] = []
    for g in groups:
        k = g.keeper.rel_path
        for m in g.members:
            kind = truth.kind(k, m.photo.rel_path)
            if kind == "copy":
                # The pair's transform: the copy's, or the keeper's when the member is the original.
                t = truth.transform[m.photo.rel_path]
                copies[t if t != "original" else truth.transform[k]].append(m.label in (SAME_PHOTO, IDENTICAL))
            elif k in truth.ukbench and truth.kind(k, m.photo.rel_path) == "neutral":
                views.append(m.label == SIMILAR_SHOT)
    return copies, views


def forced_labels(truth: Truth, root: Path) -> tuple[dict[str, list[bool]], list[bool], float]:
    """The pixel check on every (original, copy) and every UKBench same-object pair."""
    from photosearch_desktop.engine.duplicates.image_match import is_same_picture, load_thumb

    thumbs: dict[str, object] = {}

    def thumb(rel: str):  # type: ignore[no-untyped-def]
        if rel not in thumbs:
            thumbs[rel] = load_thumb(root / rel)
        return thumbs[rel]

    started = time.perf_counter()
    compared = 0
    originals = {truth.family[p]: p for p, t in truth.transform.items() if t == "original"}
    copies: dict[str, list[bool]] = defaultdict(list)
    for p, t in truth.transform.items():
        if t != "original":
            copies[t].append(is_same_picture(thumb(originals[truth.family[p]]), thumb(p)))
            compared += 1
    objects: dict[str, list[str]] = defaultdict(list)
    for p, obj in truth.ukbench.items():
        objects[obj].append(p)
    views = []
    for members in objects.values():
        for x, y in itertools.combinations(sorted(members), 2):
            views.append(not is_same_picture(thumb(x), thumb(y)))
            compared += 1
    return copies, views, (time.perf_counter() - started) / max(1, compared)


def share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def quality(args: argparse.Namespace) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
    from photosearch_desktop.engine.duplicates.finder import build_graph, group_duplicates, verify_labels
    from photosearch_desktop.engine.library import Library

    work = Path(args.work) if args.work else WORK / "dupes-quality"
    root = work / "library"
    distractors = Path(args.distractors) if args.distractors else None
    truth = make_library(Path(args.photos), distractors if distractors and distractors.is_dir() else None, root)
    lib = Library(root, data_dir=work / "data", model=MODEL)
    t0 = time.perf_counter()
    report = lib.index()
    index_s = time.perf_counter() - t0
    threshold = args.threshold if args.threshold is not None else lib.spec.dup_threshold

    # One graph at the sweep's floor serves every threshold.
    floor = min(threshold, min(args.sweep)) if args.sweep else threshold
    t0 = time.perf_counter()
    graph = build_graph(catalog_of(lib), lib.root, floor)
    graph_s = time.perf_counter() - t0
    sweep = []
    for t in sorted(set(args.sweep or [])):
        predicted = predicted_pairs(group_duplicates(graph, catalog_of(lib), t))
        mild, every = pair_scores(truth, predicted, MILD), pair_scores(truth, predicted, set(TRANSFORMS))
        sweep.append({"threshold": t, "mild_precision": mild["precision"], "mild_recall": mild["recall"],
                      "all_precision": every["precision"], "all_recall": every["recall"]})
    ok = [s for s in sweep if s["all_precision"] >= 0.99]
    # Best recall; among equals the highest threshold (the widest precision margin).
    best = max(ok, key=lambda s: (s["mild_recall"], s["all_recall"], s["all_precision"], s["threshold"])) if ok else None
    calibrated = best["threshold"] if best else None

    t0 = time.perf_counter()
    groups = verify_labels(group_duplicates(graph, catalog_of(lib), threshold))
    group_s = time.perf_counter() - t0
    predicted = predicted_pairs(groups)
    grouped_copy_labels, grouped_view_labels = grouped_labels(truth, groups)
    forced_copy, forced_views, compare_s = forced_labels(truth, root)
    lib.close()

    rows = []
    for name, subset in [("mild (all mild copies)", MILD), ("all copies", set(TRANSFORMS))] + [
        (t, {t}) for t in TRANSFORMS
    ]:
        scores = pair_scores(truth, predicted, subset)
        grouped = [flag for t in subset for flag in grouped_copy_labels.get(t, [])]
        forced = [flag for t in subset for flag in forced_copy.get(t, [])]
        rows.append({
            "set": name,
            "mild": name.startswith("mild") or (name in MILD),
            "true_pairs": scores["pairs"],
            "precision": scores["precision"],
            "recall": scores["recall"],
            "false_pairs": scores["false_pairs"],
            "same_photo_label_grouped": share(grouped),
            "same_photo_label_forced": share(forced),
        })
    ukbench_pairs = len(forced_views)
    extra = {
        "model": MODEL,
        "threshold": threshold,
        "calibrated_threshold": calibrated,
        "calibration": "best recall (mild, then all) with all-copies precision >= 0.99; among equals the highest",
        "sweep": sweep,
        "targets": {"mild_precision": 0.99, "mild_recall": 0.95, "same_photo_label": 0.9, "similar_shot_label": 0.9},
        "library": {"photos": report.embedded + report.unchanged, "originals": sum(t == "original" for t in truth.transform.values()),
                    "copies": sum(t != "original" for t in truth.transform.values()), "distractors": len(truth.ukbench),
                    "skipped": report.skipped},
        "confirmed_copies": len(graph.copies),
        "groups": len(groups),
        "grouped_photos": sum(len(g.photos) for g in groups),
        "neutral_pairs_grouped": pair_scores(truth, predicted, set(TRANSFORMS))["neutral_grouped"],
        "ukbench_same_object_pairs": ukbench_pairs,
        "ukbench_pairs_grouped": len(grouped_view_labels),
        "similar_shot_label_grouped": share(grouped_view_labels),
        "similar_shot_label_forced": share(forced_views),
        "seconds": {"index": index_s, "pairs": graph_s, "group_and_label": group_s, "pixel_check_per_pair": compare_s},
    }
    return rows, extra


# -- scale -------------------------------------------------------------------------------------


def build_synthetic(n: int, dim: int) -> tuple[Path, Path, int]:
    """A catalog of ``n`` photos without files; 1% get 1-3 planted near-duplicates."""
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import PhotoMeta

    root, data_dir = WORK / f"dupes-lib-{n}", WORK / f"dupes-data-{n}-{dim}"
    stamp = data_dir / ".built"
    if stamp.exists():
        return root, data_dir, int(stamp.read_text())
    shutil.rmtree(data_dir, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    lib = Library(root, data_dir=data_dir, model=MODEL)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    planted = 0
    for i in rng.choice(n // 2, size=n // 100, replace=False):  # sources in the first half
        for _ in range(int(rng.integers(1, 4))):
            j = int(rng.integers(n // 2, n))
            noise = rng.standard_normal(dim).astype(np.float32)
            # cosine ~0.95 to the source: noise at a third of the source's length
            vectors[j] = vectors[i] / np.linalg.norm(vectors[i]) + 0.33 * noise / np.linalg.norm(noise)
            planted += 1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    catalog_of(lib).apply_changes([(f"{i // 1000:03d}/IMG_{i:06d}.jpg", 1_000_000 + i, 1, None) for i in range(n)], [], [], [], [])
    catalog_of(lib).set_model(MODEL, "synthetic", dim)
    pending = catalog_of(lib).pending()
    for start in range(0, n, 10_000):
        chunk = pending[start : start + 10_000]
        catalog_of(lib).store_batch(
            [(pid, vectors[int(rel[8:14])], PhotoMeta(4000, 3000), None) for pid, rel in chunk], []
        )
    lib.close()
    stamp.write_text(str(planted))
    return root, data_dir, planted


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's VmHWM, not getrusage: ru_maxrss of a child process
    starts at its parent's peak (the kernel keeps it across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale_worker(root: str, data_dir: str, threshold: float) -> None:
    """Runs in a fresh process, so that its peak RSS is the finder's alone."""
    from photosearch_desktop.engine.duplicates.finder import build_graph, group_duplicates
    from photosearch_desktop.engine.library import Library

    lib = Library(root, data_dir=data_dir, model=MODEL)
    base_rss = peak_rss_mb()
    t0 = time.perf_counter()
    graph = build_graph(catalog_of(lib), lib.root, threshold)
    pairs_s = time.perf_counter() - t0
    groups = group_duplicates(graph, catalog_of(lib), threshold)
    total_s = time.perf_counter() - t0
    print(json.dumps({
        "seconds": total_s, "pairs_seconds": pairs_s, "groups": len(groups),
        "grouped_photos": sum(len(g.photos) for g in groups), "pairs": len(graph.a),
        "pixel_check_candidates": graph.copy_candidates, "pixel_check_compared": graph.copy_comparisons,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": base_rss,
    }))


def scale(args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    from photosearch_desktop.engine.models.registry import get_spec

    if args.realistic:
        import bench_search

        from photosearch_desktop.engine.models.clip import file_sha256

        weights = bench_search.vit_b32_checkpoint()
        bench_search.build_catalog(args.photos, f"open_clip/ViT-B-32/sha256:{file_sha256(weights)[:16]}")
        root, data_dir = bench_search.paths(args.photos)
        threshold = args.threshold if args.threshold is not None else get_spec("clip-vit-b-32").dup_threshold
        planted = 0
    else:
        threshold = args.threshold if args.threshold is not None else get_spec(MODEL).dup_threshold
        root, data_dir, planted = build_synthetic(args.photos, args.dim)
    out = subprocess.run(
        [sys.executable, __file__, "_scale-worker", str(root), str(data_dir), str(threshold)],
        check=True, capture_output=True, text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    vectors = "realistic (scripts/realistic_vectors.py)" if args.realistic else "random, with planted duplicates"
    return {"photos": args.photos, "vectors": vectors, "threshold": threshold, "planted_duplicates": planted, **result}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_scale-worker":
        scale_worker(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=("quality", "scale", "both"), default="both")
    parser.add_argument("--photos", help="quality: folder of originals; scale: number of photos")
    parser.add_argument("--distractors", default=str(SHARED / "data/ukbench-dev/images"))
    parser.add_argument("--threshold", type=float, help="cosine threshold (default: the model's)")
    parser.add_argument("--sweep", type=float, nargs="*", default=[round(0.70 + 0.01 * i, 2) for i in range(29)],
                        help="thresholds for the calibration sweep")
    parser.add_argument("--dim", type=int, default=512, help="scale: vector size (512 = CLIP, 1280 = efficientnet-lite2)")
    parser.add_argument("--realistic", action="store_true", help="scale: bench_search.py's realistic catalog")
    parser.add_argument("--work", help="quality: working folder (default: under the temp dir, reused)")
    parser.add_argument("--json-out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    rows: list[dict] = []  # type: ignore[type-arg]
    extra: dict = {}  # type: ignore[type-arg]
    if args.what in ("quality", "both"):
        quality_args = argparse.Namespace(**vars(args))
        quality_args.photos = args.photos if args.what == "quality" and args.photos else str(SHARED / "data/library-dev/photos")
        rows, extra = quality(quality_args)
    if args.what in ("scale", "both"):
        scale_args = argparse.Namespace(**vars(args))
        scale_args.photos = int(args.photos) if args.what == "scale" and args.photos else 100_000
        extra["scale"] = scale(scale_args)
    benchutil.report("bench_dupes: near-duplicate detection", rows, extra, json_path=args.json_out)


if __name__ == "__main__":
    main()
