"""Duplicates: copies told from other shots, their quality, and their speed.

quality: every photo of a folder (default ../shared/data/library-dev/photos) gets 12 copies,
as in INRIA Copydays: resized to 50% and 25%, JPEG quality 75/50/30, 10% and 25% of the
area cropped away (centred), brightness x1.3, contrast x0.7, rotated 5 degrees, a caption
written over it, mirrored. Originals, copies and unrelated distractors (default
../shared/data/ukbench-dev/images: 4 views of each object, which are *other shots*) go into
one temporary library, indexed with efficientnet-lite2, and the duplicate finder runs at the
model's default threshold, as `photosearch dupes` does.

- copy pairs: two photos in the *copy* tier of one group (the keeper and its copies, or a
  similar shot and its copies). (original, copy) and (copy, copy) of one original are the
  true pairs. Precision and recall for the "mild" copies (resize, JPEG >= 50, crop 10%,
  brightness; targets P >= 0.99, R >= 0.95), all copies, and per transform. Pairs of photos
  that library-dev's manifest marks as one dup_group (a stereo pair, a colour-filtered crop)
  and SAME_SCENE count neither way.
- UKBench same-object pairs (other views: different shots): how many land in the copy tier
  (target 0) and how many in the similar tier.
- forced: the signature comparison forced on every (original, copy) and every UKBench
  same-object pair, from the signatures the catalog stores (what the finder reads).
- folding: default collapsed search (copies only, k=5) from each original's vector: the
  share of its copies folded under a result of the same picture, per transform.
- seconds: the finder on this library (~1,500 photos), in a fresh process.

collapse: ../shared/data/ukbench-dev indexed with efficientnet-lite2; from every photo, the
search `photosearch search LIB --image PHOTO -k 5` makes (collapsed by default; the photo
itself left out of the results), from the photo's stored vector; on every 10th photo the
image query itself is run too, and whether it gives the same results is reported. N-S: the
query is its own first match, then its results; of these first 4, how many show its object
(target: default >= 3.85); with --no-collapse and --fold-similar for comparison.

speed: a library of N real files (default 100,000): 90% generated distinct pictures (smooth
colour fields with shapes, of a few sizes and aspect ratios), 10% copies of some of them made
by the transforms above; indexed with the tiny random-weight CLIP (tests/tinyclip.py). Then,
in a fresh process: the duplicate finder (wall time, peak RSS, copies found), and the latency
of a search (k=60 and k=5) collapsed and not, over the same queries.

    python scripts/bench_dupes.py quality
    python scripts/bench_dupes.py collapse
    python scripts/bench_dupes.py speed --photos 1000
    python scripts/bench_dupes.py speed --photos 100000
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
from collections import Counter, defaultdict
from collections.abc import Callable
from multiprocessing import Pool
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
        """'copy' (a true pair), 'neutral' (known duplicates in the photo folder), 'view' (two
        views of one UKBench object) or 'other'."""
        fx, fy = self.family.get(x), self.family.get(y)
        if fx is not None and fx == fy:
            return "copy"
        if fx is not None and fy is not None and frozenset((fx, fy)) in self.linked:
            return "neutral"
        ux, uy = self.ukbench.get(x), self.ukbench.get(y)
        if ux is not None and ux == uy:
            return "view"  # another view of one object: a similar shot, never a copy
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


def tier_pairs(groups: list) -> tuple[set[frozenset[str]], set[frozenset[str]]]:  # type: ignore[type-arg]
    """(pairs in the copy tier, pairs in the similar tier) of the groups: photos of one
    picture (the keeper and its copies; a similar shot and its copies) are copy pairs, any
    other two photos of a group similar pairs."""
    copy_pairs: set[frozenset[str]] = set()
    similar_pairs: set[frozenset[str]] = set()
    for g in groups:
        pictures: dict[str, list[str]] = defaultdict(list)
        pictures[g.keeper.rel_path].append(g.keeper.rel_path)
        for m in g.members:
            head = (m.copy_of or g.keeper.rel_path) if m.tier == "copy" else m.photo.rel_path
            pictures[head].append(m.photo.rel_path)
        inside = {frozenset(p) for same in pictures.values() for p in itertools.combinations(same, 2)}
        copy_pairs |= inside
        similar_pairs |= {frozenset(p) for p in itertools.combinations([p.rel_path for p in g.photos], 2)} - inside
    return copy_pairs, similar_pairs


def pair_scores(truth: Truth, predicted: set[frozenset[str]], transforms: set[str]) -> dict[str, float | int]:
    """Precision and recall over the photos of ``transforms`` (+ originals and distractors)."""
    keep = {p for p, t in truth.transform.items() if t == "original" or t in transforms} | set(truth.ukbench)
    families: dict[str, list[str]] = defaultdict(list)
    for p in keep:
        if p in truth.family:
            families[truth.family[p]].append(p)
    positives = sum(len(m) * (len(m) - 1) // 2 for m in families.values())
    tp = fp = 0
    for pair in predicted:
        x, y = tuple(pair)
        if x not in keep or y not in keep:
            continue
        kind = truth.kind(x, y)
        tp += kind == "copy"
        fp += kind == "other" or kind == "view"
    return {
        "pairs": positives,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / positives if positives else 1.0,
        "false_pairs": fp,
    }


def forced_copies(truth: Truth, lib) -> tuple[dict[str, list[bool]], list[bool]]:  # type: ignore[no-untyped-def]
    """The signature comparison on every (original, copy) and UKBench same-object pair, from
    the signatures stored in the catalog (nothing decoded)."""
    from photosearch_desktop.engine.media.signature import copy_margins

    catalog = catalog_of(lib)
    paths = sorted(set(truth.transform) | set(truth.ukbench))
    photos = {p: catalog.photo_by_path(p) for p in paths}
    ids = [photos[p].id for p in paths if photos[p] is not None]
    blobs = catalog.signatures(ids)
    pos = {p: k for k, p in enumerate(p for p in paths if photos[p] is not None)}
    sigs = [blobs.get(photos[p].id) for p in pos]
    sizes = [(photos[p].width, photos[p].height) for p in pos]
    originals = {truth.family[p]: p for p, t in truth.transform.items() if t == "original"}
    pairs, kinds = [], []
    for p, t in truth.transform.items():
        if t != "original" and p in pos and originals[truth.family[p]] in pos:
            pairs.append((pos[originals[truth.family[p]]], pos[p]))
            kinds.append(t)
    objects: dict[str, list[str]] = defaultdict(list)
    for p, obj in truth.ukbench.items():
        if p in pos:
            objects[obj].append(p)
    views = [(pos[x], pos[y]) for members in objects.values() for x, y in itertools.combinations(sorted(members), 2)]
    every = np.array(pairs + views, dtype=np.int64).reshape(-1, 2)
    same = copy_margins(sigs, sizes, every[:, 0], every[:, 1]) >= 0
    copies: dict[str, list[bool]] = defaultdict(list)
    for t, flag in zip(kinds, same[: len(pairs)].tolist(), strict=True):
        copies[t].append(flag)
    return copies, same[len(pairs) :].tolist()


def folding(truth: Truth, lib) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    """Default collapsed search (k=5) from each original's stored vector: per transform, how
    many of its copies fold under a result of the same picture, show as results of their
    own, or are not among the results at all."""
    from photosearch_desktop.engine.records import SearchFilters

    catalog = catalog_of(lib)
    out: dict[str, Counter[str]] = defaultdict(Counter)
    copies_of: dict[str, list[str]] = defaultdict(list)
    for p, t in truth.transform.items():
        if t != "original":
            copies_of[truth.family[p]].append(p)
    for p, t in truth.transform.items():
        if t != "original":
            continue
        photo = catalog.photo_by_path(p)
        _, vec = catalog.vectors([photo.id])
        results = lib.search_vector(vec[0].astype(np.float32), 5, SearchFilters(collapse_duplicates=True))
        shown = {r.photo.rel_path for r in results}
        folded = {f.photo.rel_path for r in results if truth.family.get(r.photo.rel_path) == truth.family[p]
                  for f in r.folded}
        for c in copies_of[truth.family[p]]:
            kind = "folded" if c in folded else "shown" if c in shown else "not_in_results"
            out[truth.transform[c]][kind] += 1
    return {t: dict(c) for t, c in out.items()}


def share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def finder_seconds(root: Path, data_dir: Path, model: str, weights: str = "") -> dict:  # type: ignore[type-arg]
    """The duplicate finder as `photosearch dupes` runs it, in a fresh process (its wall time
    and peak RSS alone)."""
    out = subprocess.run(
        [sys.executable, __file__, "_finder", str(root), str(data_dir), model, weights],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def quality(args: argparse.Namespace) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
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
    groups = lib.find_duplicates(threshold)
    copy_pairs, similar_pairs = tier_pairs(groups)
    forced_copy, forced_views = forced_copies(truth, lib)
    folds = folding(truth, lib)
    lib.close()
    timing = finder_seconds(root, work / "data", MODEL)

    rows = []
    for name, subset in [("mild (all mild copies)", MILD), ("all copies", set(TRANSFORMS))] + [
        (t, {t}) for t in TRANSFORMS
    ]:
        scores = pair_scores(truth, copy_pairs, subset)
        forced = [flag for t in subset for flag in forced_copy.get(t, [])]
        fold = Counter[str]()
        for t in subset:
            fold.update(folds.get(t, {}))
        rows.append({
            "set": name,
            "mild": name.startswith("mild") or (name in MILD),
            "true_pairs": scores["pairs"],
            "copy_precision": scores["precision"],
            "copy_recall": scores["recall"],
            "false_copy_pairs": scores["false_pairs"],
            "signature_says_copy": share(forced),
            "folded_in_search": fold["folded"] / max(1, fold["folded"] + fold["shown"]),
            "shown_in_search": fold["shown"],
            "not_in_results": fold["not_in_results"],
        })
    views = {frozenset(p) for p in itertools.combinations(sorted(truth.ukbench), 2)
             if truth.kind(*p) == "view"}
    extra = {
        "model": MODEL,
        "threshold": threshold,
        "targets": {"mild_copy_precision": 0.99, "mild_copy_recall": 0.95, "ukbench_pairs_in_copy_tier": 0},
        "library": {"photos": report.embedded + report.unchanged, "originals": sum(t == "original" for t in truth.transform.values()),
                    "copies": sum(t != "original" for t in truth.transform.values()), "distractors": len(truth.ukbench),
                    "skipped": report.skipped, "embedded_now": report.embedded,
                    "signed_now": report.signed},
        "groups": len(groups),
        "copies_in_groups": sum(len(g.copies) for g in groups),
        "similar_in_groups": sum(len(g.similar) for g in groups),
        "ukbench_same_object_pairs": len(views),
        "ukbench_pairs_in_copy_tier": len(views & copy_pairs),
        "ukbench_pairs_in_similar_tier": len(views & similar_pairs),
        "ukbench_pairs_signature_says_copy": sum(forced_views),
        "known_duplicate_pairs_in_copy_tier": sum(truth.kind(*tuple(p)) == "neutral" for p in copy_pairs),
        "seconds": {"index": index_s, **timing},
    }
    return rows, extra


# -- collapse on UKBench ---------------------------------------------------------------------


def collapse(args: argparse.Namespace) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import SearchFilters

    images = Path(args.ukbench)
    with open(images.parent / "groups.csv", newline="") as fh:
        group = {row["filename"]: row["group_id"] for row in csv.DictReader(fh)}
    lib = Library(images, data_dir=WORK / "ukbench-collapse-data", model=MODEL)
    lib.index()
    catalog = catalog_of(lib)
    settings = {
        "default (copies fold)": SearchFilters(collapse_duplicates=True),
        "--fold-similar": SearchFilters(collapse_duplicates=True, fold_similar=True),
        "--no-collapse": SearchFilters(),
    }
    found: dict[str, list[int]] = defaultdict(list)
    folded: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    same_as_cli = 0
    queries = sorted(p for p in images.iterdir() if p.name in group)
    for n, path in enumerate(queries):
        photo = catalog.photo_by_path(path.name)
        for name, filters in settings.items():
            t0 = time.perf_counter()
            # The photo's stored vector; the photo itself is left out of the results, as
            # `photosearch search --image PHOTO` leaves it out.
            results = lib.search_photo(photo.id, 5, filters)
            seconds[name] += time.perf_counter() - t0
            # N-S: the query is its own first match (score 1), then the results.
            ranking = [path.name] + [r.photo.rel_path for r in results]
            found[name].append(sum(group.get(p) == group[path.name] for p in ranking[:4]))
            folded[name] += sum(len(r.folded) for r in results)
            if name == "default (copies fold)" and n % 10 == 0:  # the command line's way, on every 10th photo
                cli = lib.search_image(path, 5, filters)
                same_as_cli += [r.photo.rel_path for r in cli] == [r.photo.rel_path for r in results]
    lib.close()
    rows = [{"search -k 5": name, "queries": len(hits), "ns_score": sum(hits) / len(hits), "results_folded": folded[name],
             "ms_per_query": 1000 * seconds[name] / len(hits)} for name, hits in found.items()]
    return rows, {"model": MODEL, "photos": len(queries), "target_default_ns": 3.85,
                  "image_queries_checked": len(queries[::10]), "image_queries_with_the_same_results": same_as_cli}


# -- speed on real files -----------------------------------------------------------------------

SIZES = ((192, 144), (144, 192), (176, 176), (224, 126))  # pixel sizes of generated originals


def _picture(seed: int) -> Image.Image:
    """A distinct generated picture: a smooth colour field, fine texture and a few shapes."""
    rng = np.random.default_rng(seed)
    w, h = SIZES[seed % len(SIZES)]
    field = Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8), "RGB").resize((w, h), Image.Resampling.BICUBIC)
    grain = rng.normal(0, 12, (h, w, 1))
    im = Image.fromarray(np.clip(np.asarray(field, dtype=np.float32) + grain, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        box = (x0, y0, x0 + int(rng.integers(15, 70)), y0 + int(rng.integers(15, 60)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return im


def _write_files(job: tuple[str, int, int, int]) -> list[tuple[str, str, str]]:
    """Originals seeds [start, stop) under ``root``; every ``every``-th gets one copy made by
    the next transform. Returns (copy, its original, transform) rows."""
    root, start, stop, every = job
    names = list(TRANSFORMS)
    rows = []
    for seed in range(start, stop):
        rel = f"{seed // 1000:03d}/IMG_{seed:06d}.jpg"
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        im = _picture(seed)
        im.save(path, "JPEG", quality=90)
        if seed % every == 0:
            name = names[(seed // every) % len(names)]
            fn, q, _ = TRANSFORMS[name]
            copy = f"copies/{seed // 1000:03d}/IMG_{seed:06d}_{name}.jpg"
            (Path(root) / copy).parent.mkdir(parents=True, exist_ok=True)
            fn(im).save(Path(root) / copy, "JPEG", quality=q)
            rows.append((copy, rel, name))
    return rows


def generate(n: int, root: Path) -> list[tuple[str, str, str]]:
    """N files: n - n // 10 originals and n // 10 copies (cached under ``root``)."""
    truth = root / "truth.json"
    if truth.exists():
        return [tuple(r) for r in json.loads(truth.read_text())]  # type: ignore[misc]
    shutil.rmtree(root, ignore_errors=True)
    originals = n - n // 10
    every = max(1, originals // (n // 10)) if n >= 10 else originals + 1
    chunks = [(str(root), s, min(originals, s + 1000), every) for s in range(0, originals, 1000)]
    with Pool(os.cpu_count() or 1) as pool:
        rows = [r for part in pool.map(_write_files, chunks) for r in part][: n // 10]
    # Copies beyond n // 10 (rounding) are removed, so the library holds exactly n files.
    keep = {r[0] for r in rows}
    for extra in (root / "copies").rglob("*.jpg"):
        if extra.relative_to(root).as_posix() not in keep:
            extra.unlink()
    truth.write_text(json.dumps(rows))
    return rows


def speed(args: argparse.Namespace) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
    from tinyclip import make_tiny_clip

    from photosearch_desktop.engine.library import Library

    n = int(args.photos)
    root, data_dir = WORK / f"dupes-files-{n}", WORK / f"dupes-files-data-{n}"
    t0 = time.perf_counter()
    truth = generate(n, root)
    generate_s = time.perf_counter() - t0
    _, weights, config = make_tiny_clip(WORK / "tiny-clip")
    model = f"clip:{config}"
    lib = Library(root, data_dir=data_dir, model=model, weights=weights)
    t0 = time.perf_counter()
    report = lib.index()
    index_s = time.perf_counter() - t0
    lib.close()
    (WORK / f"dupes-files-{n}.truth").write_text(json.dumps(truth))
    result = finder_seconds(root, data_dir, model, str(weights))
    files = sum(1 for p in root.rglob("*.jpg"))
    row = {"photos": files, "copies_made": len(truth), **{k: v for k, v in result.items() if k != "search"}}
    extra = {"targets": {"seconds_1000": 3, "seconds_100000": 90, "peak_rss_mb": 1024},
             "model": "tiny random-weight CLIP (tests/tinyclip.py): vectors prove nothing, the pipeline is real",
             "seconds": {"generate": generate_s, "index": index_s},
             "index_report": {"embedded": report.embedded, "skipped": report.skipped, "unchanged": report.unchanged},
             "search_ms": result.get("search")}
    return [row], extra


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


def finder_worker(root: str, data_dir: str, model: str, weights: str) -> None:
    """Runs in a fresh process: the finder (as `photosearch dupes`), then search latency."""
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.records import SearchFilters

    lib = Library(root, data_dir=data_dir, model=model, weights=weights or None)
    base_rss = peak_rss_mb()
    t0 = time.perf_counter()
    groups = lib.find_duplicates()
    seconds = time.perf_counter() - t0
    finder_rss = peak_rss_mb()
    out: dict = {  # type: ignore[type-arg]
        "seconds": seconds, "groups": len(groups), "copies": sum(len(g.copies) for g in groups),
        "similar": sum(len(g.similar) for g in groups), "peak_rss_mb": finder_rss, "rss_before_mb": base_rss,
    }
    truth_file = Path(str(Path(root)) + ".truth")
    if Path(root).name.startswith("dupes-files-") and truth_file.exists():
        truth = json.loads(truth_file.read_text())
        copy_pairs, _ = tier_pairs(groups)
        found = sum(frozenset((c, o)) in copy_pairs for c, o, _ in truth)
        out["planted_copies_found"] = found / max(1, len(truth))
        out["copy_pairs_reported"] = len(copy_pairs)
        catalog = catalog_of(lib)
        ids = catalog.filtered_ids(SearchFilters())
        rng = np.random.default_rng(0)
        _, queries = catalog.vectors(rng.choice(ids, size=min(50, len(ids)), replace=False).tolist())
        search = {}
        for k in (60, 5):
            for name, filters in (("plain", SearchFilters()), ("collapsed", SearchFilters(collapse_duplicates=True))):
                lib.search_vector(queries[0].astype(np.float32), k, filters)  # warm
                times = []
                for q in queries:
                    t = time.perf_counter()
                    lib.search_vector(q.astype(np.float32), k, filters)
                    times.append((time.perf_counter() - t) * 1000)
                search[f"k{k}_{name}_median_ms"] = float(np.median(times))
                search[f"k{k}_{name}_p95_ms"] = float(np.percentile(times, 95))
        out["search"] = search
    lib.close()
    print(json.dumps(out))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_finder":
        finder_worker(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("quality", "collapse", "speed"))
    parser.add_argument("--photos", help="quality: folder of originals; speed: number of files (default 100000)")
    parser.add_argument("--distractors", default=str(SHARED / "data/ukbench-dev/images"))
    parser.add_argument("--ukbench", default=str(SHARED / "data/ukbench-dev/images"), help="collapse: the images")
    parser.add_argument("--threshold", type=float, help="quality: similar shots' cosine threshold (default: the model's)")
    parser.add_argument("--work", help="quality: working folder (default: under the temp dir, reused)")
    parser.add_argument("--json-out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    if args.what == "quality":
        args.photos = args.photos or str(SHARED / "data/library-dev/photos")
        rows, extra = quality(args)
    elif args.what == "collapse":
        rows, extra = collapse(args)
    else:
        args.photos = args.photos or "100000"
        rows, extra = speed(args)
    benchutil.report(f"bench_dupes {args.what}", rows, extra, json_path=args.json_out)


if __name__ == "__main__":
    main()
