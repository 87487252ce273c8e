"""``photosearch``: the headless command line over the engine.

Exit codes: 0 ok, 1 failure (one line on stderr says why), 2 usage error, 130 interrupted.
The ``--json`` output is a stable schema, documented in the README.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .engine.errors import Action, Hint, LibraryError, PhotoSearchError, advice
from .engine.library import (
    DEFAULT_MODEL,
    Library,
    WithoutImageData,
    app_dirs,
    available_models,
    find_moved_library,
    keep_private,
    offline_summary,
    parse_weight,
    relink_library,
)
from .engine.records import (
    COPY_TIER,
    KEEPER_RULE,
    DuplicateGroup,
    IndexReport,
    MovedLibrary,
    OfflineFolder,
    PhotoRecord,
    PipelineOptions,
    Preparation,
    Progress,
    QueryTerm,
    SearchFilters,
    SearchQuery,
    SearchResult,
)

log = logging.getLogger("photosearch")

def _parse_date(text: str, end_of_day: bool = False) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (use YYYY-MM-DD)") from None
    if end_of_day and len(text) <= 10:  # a bare date: --to includes that whole day
        value = datetime.combine(value.date(), dtime(23, 59, 59))
    return value


def _positive_int(text: str) -> int:
    """A count given on the command line: a whole number of 1 or more (a batch size of -1 once
    left a new photo silently unembedded)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not 1 or more")
    return value


def _similarity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a similarity between 0 and 1")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("library", type=Path, help="the photo folder")
    p.add_argument("--model", help=f"model name (default: the library's, else {DEFAULT_MODEL}); see 'photosearch models'")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--runtime", choices=("auto", "onnx", "torch"), default="auto",
        help="what runs the model: auto (default: ONNX Runtime on a CPU, torch on a GPU), onnx or torch",
    )
    p.add_argument("--weights", type=Path, help="local CLIP checkpoint instead of downloading")
    p.add_argument("--data-dir", type=Path, help="where the index lives (default: per-user data dir; env PHOTOSEARCH_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (and tracebacks on failure)")


def _redownload(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redownload-weights", action="store_true",
        help="download the model's weights anew (when the ones on this computer were refused)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photosearch", description="Search your own photos by what they look like. Nothing leaves your machine."
    )
    parser.add_argument("--version", action="version", version=f"photosearch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="scan the folder and index new, changed, moved and deleted photos")
    _common(p)
    p.add_argument("--workers", type=_positive_int, help="decode threads (default: one per CPU core)")
    p.add_argument("--batch-size", type=_positive_int, help="photos per model batch (default: best measured for the model)")
    p.add_argument(
        "--commit-every", type=_positive_int, default=PipelineOptions.commit_every, help="photos per saved batch (default %(default)s)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _redownload(p)
    p.add_argument(
        "--remove-missing", action="store_true",
        help="drop every photo whose file is not found, offline ones too (by default photos that vanish "
        "in bulk, as when a drive is unplugged, are kept offline and come back when their files do)",
    )
    p.add_argument(
        "--relink", action=argparse.BooleanOptionalAction, default=None,
        help="when the folder has no index yet but holds a library indexed elsewhere (moved, renamed, another "
        "drive letter): --relink uses that index, --no-relink indexes the folder anew (default: ask)",
    )

    p = sub.add_parser(
        "search", help="find photos that look like images, library photos or words (combine them freely)",
        description="Each --image, --photo, --text and --add adds to what is looked for, --subtract steers away "
        "from it; any of them may start with a weight, e.g. --add 2:sunset or --subtract 0.5:people.",
    )
    _common(p)
    p.add_argument("--image", action="append", default=[], metavar="[W:]FILE",
                   help="an image file, inside the library or not (repeat for several)")
    p.add_argument("--photo", action="append", default=[], metavar="[W:]PHOTO",
                   help="a library photo (relative path or id): more like this (repeat for several)")
    p.add_argument("--text", action="append", default=[], metavar="[W:]WORDS",
                   help='words, e.g. "dog on a beach" (CLIP models)')
    p.add_argument("--add", action="append", default=[], metavar="[W:]WORDS|IMAGE",
                   help="also look for these words, this image file or library photo")
    p.add_argument("--subtract", action="append", default=[], metavar="[W:]WORDS|IMAGE",
                   help='steer away from these words, image file or library photo ("not this")')
    p.add_argument("--saved", metavar="NAME", help="run a saved search (see 'photosearch saved'); filters given here win")
    p.add_argument("--save", metavar="NAME", help="save this search (terms and filters) under NAME")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the results to FILE as CSV")
    p.add_argument("-k", type=_positive_int, default=20, help="number of results (default 20)")
    p.add_argument("--folder", help="only this sub-folder of the library (and below)")
    p.add_argument("--from", dest="date_from", type=_parse_date, help="taken on or after YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=lambda s: _parse_date(s, end_of_day=True), help="taken on or before YYYY-MM-DD")
    p.add_argument("--include-undated", action="store_true", default=None,
                   help="keep photos without a date when a date filter is set")
    p.add_argument("--min-score", type=float, help="drop results below this similarity (-1..1)")
    p.add_argument(
        "--collapse", action=argparse.BooleanOptionalAction, default=None,
        help="fold copies of a photo (resized, re-encoded, cropped, edited) under the best-ranked of them, "
        "so -k counts distinct pictures; other shots of a scene stay (default; JSON: 'folded' paths). "
        "--no-collapse lists every photo",
    )
    p.add_argument(
        "--fold-similar", action=argparse.BooleanOptionalAction, default=None,
        help="also fold similar shots (bursts): photos at the model's duplicate threshold or closer to a "
        "better-ranked result (off by default)",
    )
    _redownload(p)

    p = sub.add_parser("saved", help="list the searches saved for this library")
    _common(p)

    p = sub.add_parser(
        "dupes", help="find copies of the same photo and similar shots, and suggest which to keep (changes nothing)"
    )
    _common(p)
    p.add_argument(
        "--threshold", type=_similarity,
        help="cosine similarity 0..1 of similar shots (default: the model's calibrated value); copies are found "
        "whatever it is",
    )
    p.add_argument("--folder", default="", help="only this sub-folder of the library (and below)")

    p = sub.add_parser("eval", help="measure search quality against known groups of related photos")
    _common(p)
    p.add_argument(
        "--groups", type=Path, required=True,
        help="CSV with columns filename,group_id (filename relative to the library or its images/ folder)",
    )

    p = sub.add_parser("status", help="what is indexed, what was skipped and why, where the index lives")
    _common(p)

    p = sub.add_parser("relink", help="move the index of a library that moved (or whose drive letter changed) to its new folder")
    p.add_argument("old", type=Path, help="the folder the library was indexed at")
    p.add_argument("new", type=Path, help="the folder that holds its photos now")
    p.add_argument("--data-dir", type=Path, help="where the index lives (default: per-user data dir; env PHOTOSEARCH_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (and tracebacks on failure)")

    sub.add_parser("models", help="list the models you can choose")
    return parser


class ProgressBar:
    """One self-rewriting line on a terminal; a line every 10 s when stderr is a file."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = p.phase == "finishing"
        if not final and now - self._last < (0.2 if self.tty else 10.0):
            return
        self._last = now
        if p.phase == "scanning":
            line = "Scanning the folder…"
        else:
            width = 30
            filled = int(width * p.fraction)
            eta = "--:--" if p.eta_s is None else _duration(p.eta_s)
            line = f"[{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total}  {p.rate:5.1f} photos/s  ETA {eta}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(78) + ("\n" if final else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _result_json(rank: int, r: SearchResult) -> dict[str, Any]:
    p = r.photo
    return {
        "rank": rank,
        "id": p.id,
        "path": p.rel_path,
        "abs_path": r.abs_path,
        "score": round(r.score, 6),
        "taken_at": p.taken_at.isoformat() if p.taken_at else None,
        "taken_source": p.taken_source,
        "width": p.width,
        "height": p.height,
    }


def _preparing(news: Preparation) -> None:
    """The model's one-time preparation for this computer (tens of seconds): say so as it starts and ends."""
    print(f"photosearch: {news.message}", file=sys.stderr, flush=True)


def _open(args: argparse.Namespace, readonly: bool = False) -> Library:
    keep_private(app_dirs(args.data_dir))
    lib = Library(
        args.library, data_dir=args.data_dir, model=args.model, device=args.device, weights=args.weights,
        readonly=readonly, runtime=args.runtime, model_preparing=_preparing,
        redownload_weights=getattr(args, "redownload_weights", False),
    )
    _print_notices(lib)
    return lib


def _print_notices(lib: Library) -> None:
    """What the engine did on its own that the user must know (e.g. a damaged catalog replaced)."""
    for notice in lib.notices:
        print(f"photosearch: note: {notice}", file=sys.stderr)
    lib.notices.clear()


def cmd_index(args: argparse.Namespace) -> int:
    options = PipelineOptions(
        batch_size=args.batch_size,
        commit_every=args.commit_every,
        **({"decode_workers": args.workers} if args.workers else {}),
    )
    cancel = threading.Event()
    if args.relink is not False:
        moved = find_moved_library(args.library, args.data_dir)
        if moved is not None:
            if not (args.relink or _ask_relink(moved, args.json)):
                print(
                    f"photosearch: {_moved_words(moved)}\nRun the command again with --relink to use its index "
                    "(nothing is embedded again), or with --no-relink to index this folder anew.",
                    file=sys.stderr,
                )
                return 1
            moved = relink_library(moved.old_root, args.library, args.data_dir)
            print(f"photosearch: {_relinked_words(moved)}", file=sys.stderr)
    with _open(args) as lib:
        if lib.indexed_model and lib.indexed_model != lib.model_name:
            print(
                f"The library was indexed with '{lib.indexed_model}'; switching to '{lib.model_name}' "
                "re-embeds every photo.",
                file=sys.stderr,
            )
        try:
            with _first_interrupt_cancels(cancel):
                report = lib.index(
                    progress=ProgressBar(not (args.quiet or args.json)), cancel=cancel, options=options,
                    remove_missing=args.remove_missing,
                )
            _print_notices(lib)
        except KeyboardInterrupt:
            print("\nStopped at once. Photos saved before now are kept; run the same command to resume.", file=sys.stderr)
            return 130
        if report.cancelled:
            print(f"Interrupted: {report.embedded:,} photos embedded and saved, "
                  f"{lib.counts()['pending']:,} still to do; run the same command to resume.", file=sys.stderr)
            if args.json:
                _print_report(report, lib, True)
            return 130
        _print_report(report, lib, args.json)
    return 0


@contextmanager
def _first_interrupt_cancels(cancel: threading.Event) -> Iterator[None]:
    """Ctrl+C once: the run stops after the photos in progress and saves them (it raised at
    once and lost the photos finished since the last save, up to 5 s of work); twice: at once.
    Left alone where Ctrl+C is ignored (a background job) or this is not the main thread."""
    def interrupted(_signum: int, _frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nStopping after the photos in progress, saving them (Ctrl+C again to stop at once)…", file=sys.stderr)

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _print_report(report: IndexReport, lib: Library, as_json: bool) -> None:
    counts = lib.counts()
    if as_json:
        out = {k: v for k, v in report.__dict__.items() if k not in ("scan_problems", "offline_folders")}
        out["scan_problems"] = [{"path": s.rel_path, "reason": s.reason} for s in report.scan_problems]
        out["offline_folders"] = _offline_json(report.offline_folders)
        out["totals"] = counts
        print(json.dumps(out, indent=2))
        return
    print(
        f"{report.added} new, {report.modified} changed, {report.moved} moved, {report.deleted} deleted, "
        f"{report.unchanged} unchanged; embedded {report.embedded}, skipped {report.skipped} "
        f"in {report.seconds:.1f} s."
    )
    if report.rebuilt_for_model:
        print(f"The index was rebuilt for the model {report.rebuilt_for_model}.")
    if report.signed:
        print(f"Took the pixel signature of {report.signed} photos indexed by an earlier version (for telling "
              "copies from other shots; not embedded again).")
    if report.returned:
        print(f"{report.returned} offline photos are back (nothing was embedded again for them).")
    if report.kept_unreadable:
        print(f"{report.kept_unreadable} photos in folders that could not be read were kept as they were.")
    offline = f", {counts['offline']} offline" if counts["offline"] else ""
    print(f"Library: {counts['indexed']} photos indexed, {counts['skipped']} skipped, {counts['pending']} pending{offline}.")
    _print_offline(lib, report.offline_folders, everything=not report.root_reachable or _online(counts) == 0)
    if counts["skipped"] or report.scan_problems:
        print("See why files were skipped with: photosearch status", lib.root)


def _online(counts: dict[str, int]) -> int:
    return counts["indexed"] + counts["pending"] + counts["skipped"]


def _offline_json(folders: list[OfflineFolder] | tuple[OfflineFolder, ...]) -> list[dict[str, Any]]:
    return [{"folder": f.folder, "photos": f.photos} for f in folders]


def _print_offline(lib: Library, folders: list[OfflineFolder] | tuple[OfflineFolder, ...], everything: bool) -> None:
    lines = offline_summary(lib.root, folders, everything)
    if not lines:
        return
    print("\n".join(lines))
    print(
        "Their photos stay in the index, left out of results, and come back without being embedded again "
        "with the next update that finds them.\n"
        f"To drop them from the index instead: photosearch index {lib.root} --remove-missing"
    )


def _moved_words(moved: MovedLibrary) -> str:
    return (
        f"This looks like the library that was at {moved.old_root} — use its index? ({moved.photos} photos; "
        f"{moved.matched} of {moved.sampled} photos looked up are here unchanged.)"
    )


def _ask_relink(moved: MovedLibrary, as_json: bool) -> bool:
    """In a terminal, ask; anywhere else, a decision the command line must make (False)."""
    if as_json or not sys.stdin.isatty():
        return False
    answer = input(f"{_moved_words(moved)} [Y/n] ").strip().lower()
    if answer in ("", "y", "yes"):
        return True
    if answer in ("n", "no"):
        return False
    raise LibraryError("No answer: nothing was changed.")


def _relinked_words(moved: MovedLibrary) -> str:
    return (
        f"The index of {moved.old_root} ({moved.photos} photos) now belongs to {moved.new_root}: "
        "nothing is embedded again."
    )


def cmd_relink(args: argparse.Namespace) -> int:
    moved = relink_library(args.old, args.new, args.data_dir)
    if args.json:
        print(json.dumps({"old": moved.old_root, "new": moved.new_root, "photos": moved.photos,
                          "sampled": moved.sampled, "matched": moved.matched}, indent=2))
    else:
        print(_relinked_words(moved))
        print(f"Run 'photosearch index {moved.new_root}' to pick up changes made since.")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        saved = lib.saved_search(args.saved) if args.saved else None
        query = _query(lib, args, saved.query if saved else None)
        filters = _filters(args, saved.filters if saved else SearchFilters(collapse_duplicates=True))
        if args.save is not None:  # an empty name is refused in words, not skipped
            lib.save_search(args.save, query, filters)
        results = lib.search(query, args.k, filters)
        if args.csv:
            lib.export_csv(results, args.csv)
        offline = lib.counts()["offline"]
    if offline:
        print(f"photosearch: note: {offline} offline photos (their files cannot be reached) were not searched; "
              "see photosearch status.", file=sys.stderr)
    if args.json:
        out = [_result_json(i + 1, r) | {"folded": [f.photo.rel_path for f in r.folded]} for i, r in enumerate(results)]
        print(json.dumps(out, indent=2))
    elif not results:
        print("No photos match." + (" Try clearing the filters." if filters.active else ""))
    else:
        for i, r in enumerate(results, 1):
            date = r.photo.taken_at.date().isoformat() if r.photo.taken_at else "no date"
            what = "folded" if filters.fold_similar else ("copy" if len(r.folded) == 1 else "copies")
            more = f"  (+{len(r.folded)} {what})" if r.folded else ""
            print(f"{i:3d}  {r.score:6.3f}  {date:10s}  {r.photo.rel_path}{more}")
    return 0


def _query(lib: Library, args: argparse.Namespace, saved: SearchQuery | None) -> SearchQuery:
    """The terms given on the command line, after a saved search's."""
    terms = list(saved.terms) if saved else []
    for text in args.image:
        weight, path = parse_weight(text)
        terms.append(QueryTerm("file", str(Path(path).expanduser()), weight=weight))
    for text in args.photo:
        weight, name = parse_weight(text)
        terms.append(_photo_term(lib, name, weight))
    for text in args.text:
        weight, words = parse_weight(text)
        terms.append(QueryTerm("text", words, weight=weight))
    for sign, values in ((1.0, args.add), (-1.0, args.subtract)):
        for text in values:
            weight, value = parse_weight(text)
            terms.append(_guess_term(lib, value, sign * weight))
    return SearchQuery(tuple(terms))


def _photo_term(lib: Library, name: str, weight: float) -> QueryTerm:
    photo = lib.photo_by_path(name) or (lib.photo(int(name)) if name.isdigit() else None)
    if photo is None:
        raise LibraryError(f"'{name}' is not a photo of this library.")
    return QueryTerm("photo", photo.rel_path, photo_id=photo.id, weight=weight)


def _guess_term(lib: Library, value: str, weight: float) -> QueryTerm:
    """An existing image file, else a photo of the library, else words."""
    if Path(value).expanduser().is_file():
        return QueryTerm("file", str(Path(value).expanduser()), weight=weight)
    photo = lib.photo_by_path(value)
    if photo is not None:
        return QueryTerm("photo", photo.rel_path, photo_id=photo.id, weight=weight)
    return QueryTerm("text", value, weight=weight)


def _filters(args: argparse.Namespace, base: SearchFilters) -> SearchFilters:
    """``base`` (a saved search's, or the defaults) with every filter given on the command line."""
    given = {
        "folder": args.folder, "date_from": args.date_from, "date_to": args.date_to,
        "include_undated": args.include_undated, "min_score": args.min_score, "collapse_duplicates": args.collapse,
        "fold_similar": args.fold_similar,
    }
    return replace(base, **{k: v for k, v in given.items() if v is not None})


def cmd_saved(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        searches = lib.saved_searches()
    if args.json:
        doc = [{"name": s.name, "terms": [_term_json(t) for t in s.query.terms], "filters": _filters_json(s.filters),
                "saved_at": s.saved_at.isoformat(timespec="seconds")} for s in searches]
        print(json.dumps(doc, indent=2))
    elif not searches:
        print("No saved searches yet. Save one with: photosearch search ... --save NAME")
    else:
        for s in searches:
            terms = ", ".join(_term_words(t) for t in s.query.terms)
            print(f"{s.name}: {terms}{_filter_words(s.filters)}")
    return 0


def _term_json(t: QueryTerm) -> dict[str, Any]:
    return {"kind": t.kind, "value": t.label if t.kind == "pixels" else t.text, "weight": t.weight}


def _term_words(t: QueryTerm) -> str:
    sign = "-" if t.weight < 0 else "+"
    weight = f"{abs(t.weight):g}:" if abs(t.weight) != 1 else ""
    return f"{sign}{weight}{t.label}"


def _filters_json(f: SearchFilters) -> dict[str, Any]:
    return {"folder": f.folder, "from": f.date_from.date().isoformat() if f.date_from else None,
            "to": f.date_to.date().isoformat() if f.date_to else None, "include_undated": f.include_undated,
            "min_score": f.min_score, "collapse": f.collapse_duplicates, "fold_similar": f.fold_similar}


def _filter_words(f: SearchFilters) -> str:
    parts = [f"in {f.folder}"] if f.folder else []
    if f.date_from or f.date_to:
        parts.append(f"{f.date_from.date() if f.date_from else '…'} to {f.date_to.date() if f.date_to else '…'}")
    return f" ({'; '.join(parts)})" if parts else ""


def _photo_json(p: PhotoRecord, abs_path: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "path": p.rel_path,
        "abs_path": abs_path,
        "width": p.width,
        "height": p.height,
        "size": p.size,
        "taken_at": p.taken_at.isoformat() if p.taken_at else None,
        "format": p.format,
    }


def _group_json(g: DuplicateGroup) -> dict[str, Any]:
    return {
        "keeper": _photo_json(g.keeper, g.keeper_path),
        "keeper_reason": g.keeper_reason,
        "members": [
            {
                **_photo_json(m.photo, m.abs_path),
                "similarity": round(m.similarity, 6),
                "label": m.label,
                "tier": m.tier,
                "selected_by_default": m.selected_by_default,
                "copy_of": (m.copy_of or g.keeper.rel_path) if m.tier == COPY_TIER else None,
            }
            for m in g.members
        ],
    }


def _photo_line(p: PhotoRecord) -> str:
    size = f"{p.width}x{p.height}" if p.width and p.height else "?"
    date = p.taken_at.date().isoformat() if p.taken_at else "no date"
    return f"{size:>11s}  {p.size / 1e6:7.2f} MB  {date:10s}  {p.rel_path}"


def cmd_dupes(args: argparse.Namespace) -> int:
    show = not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show:
            sys.stderr.write(f"\rComparing photos… {100 * done // max(1, total):3d}%")
            sys.stderr.flush()

    with _open(args) as lib:
        groups = lib.find_duplicates(args.threshold, args.folder, progress=progress)
        threshold = lib.spec.dup_threshold if args.threshold is None else args.threshold
    if show:
        sys.stderr.write("\r" + " " * 40 + "\r")
    if args.json:
        doc = {"library": str(lib.root), "model": lib.indexed_model, "threshold": threshold, "keeper_rule": KEEPER_RULE,
               "groups": [_group_json(g) for g in groups]}
        print(json.dumps(doc, indent=2))
        return 0
    if not groups:
        print(f"No copies, and no similar shots at similarity {threshold:.2f} or more.")
        return 0
    copies = sum(len(g.copies) for g in groups)
    similar = sum(len(g.similar) for g in groups)
    print(f"{len(groups)} groups: {copies} copies (the same picture: safe to remove while its keeper stays) "
          f"and {similar} similar shots at similarity {threshold:.2f} or more (other pictures: never chosen for you).")
    print(KEEPER_RULE)
    for n, g in enumerate(groups, 1):
        print(f"\nGroup {n} ({len(g.members) + 1} photos)")
        print(f"  keep    {_photo_line(g.keeper)}")
        print(f"          why: {g.keeper_reason}")
        if g.copies:
            print("  copies:")
            for m in g.copies:
                of = f" of {m.copy_of}" if m.copy_of else ""
                print(f"  {m.similarity:6.3f}  {_photo_line(m.photo)}  [{m.label}{of}]")
        if g.similar:
            print("  similar shots (other pictures):")
            for m in g.similar:
                print(f"  {m.similarity:6.3f}  {_photo_line(m.photo)}  [{m.label}]")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        report = lib.evaluate(args.groups)
        model = lib.indexed_model
    metrics: dict[str, float] = {}
    for k in sorted(report.precision):
        metrics[f"precision@{k}"] = report.precision[k]
        metrics[f"recall@{k}"] = report.recall[k]
    metrics["mAP"] = report.mean_average_precision
    metrics["ns_score"] = report.ns_score
    if args.json:
        doc = {"library": str(lib.root), "model": model, "groups_file": str(args.groups), "queries": report.queries,
               "photos": report.photos, "groups": report.groups, **{k: round(v, 6) for k, v in metrics.items()},
               "unmatched_count": len(report.unmatched), "unmatched": list(report.unmatched)}
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{report.queries} queries in {report.groups} groups, ranked among {report.photos} photos ({model}).")
    if report.unmatched:
        print(f"{len(report.unmatched)} rows of {args.groups} name no indexed photo (e.g. {report.unmatched[0]}).")
    for name, value in metrics.items():
        print(f"  {name:14s} {value:.4f}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args, readonly=False) as lib:
        st = lib.status()
    moved = find_moved_library(st.root, args.data_dir) if st.total == 0 else None
    if moved is not None:
        print(f"photosearch: note: {_moved_words(moved)} Use it with: photosearch relink {moved.old_root} {st.root}",
              file=sys.stderr)
    spec = {m.name: m for m in available_models()}.get(st.model or "")
    if args.json:
        print(
            json.dumps(
                {
                    "library": st.root,
                    "data_dir": st.data_dir,
                    "model": st.model,
                    "model_identity": st.model_identity,
                    "runtime": st.runtime.runtime if st.runtime else None,
                    "runtime_reason": st.runtime.reason if st.runtime else None,
                    "runtime_device": st.runtime.device if st.runtime else None,
                    "total": st.total,
                    "indexed": st.indexed,
                    "pending": st.pending,
                    "skipped_count": len(st.skipped),
                    "skipped": [{"path": s.rel_path, "reason": s.reason} for s in st.skipped],
                    "last_indexed_at": st.last_indexed_at.isoformat(timespec="seconds") if st.last_indexed_at else None,
                    "offline": st.offline,
                    "offline_folders": _offline_json(st.offline_folders),
                    "reachable": st.reachable,
                },
                indent=2,
            )
        )
        return 0
    print(f"Library:   {st.root}")
    print(f"Index:     {st.data_dir}")
    print(f"Model:     {st.model or '(not indexed yet)'}" + (f" — {spec.description}" if spec else ""))
    if st.runtime:
        print(f"Runtime:   {st.runtime.words}")
    offline = f", {st.offline} offline" if st.offline else ""
    print(f"Photos:    {st.indexed} indexed, {st.pending} pending, {len(st.skipped)} skipped{offline}")
    if st.last_indexed_at:
        print(f"Updated:   {st.last_indexed_at:%Y-%m-%d %H:%M}")
    if st.offline:
        print("\nOffline (kept in the index, left out of results):")
        for line in offline_summary(Path(st.root), st.offline_folders, not st.reachable or st.total == st.offline):
            print(f"  {line}")
    if st.skipped:
        print("\nSkipped files:")
        for s in st.skipped:
            print(f"  {s.rel_path}: {s.reason}")
    return 0


def cmd_models(_: argparse.Namespace) -> int:
    for spec in available_models():
        size = "ships with the app" if spec.download_mb == 0 else f"{spec.download_mb} MB download"
        text = "photo + text search" if spec.supports_text else "photo search only"
        default = " (default)" if spec.name == DEFAULT_MODEL else ""
        print(f"{spec.name:20s} {spec.description}; {text}; {size}{default}")
    return 0


COMMANDS = {
    "index": cmd_index, "search": cmd_search, "saved": cmd_saved, "status": cmd_status, "models": cmd_models, "dupes": cmd_dupes,
    "eval": cmd_eval, "relink": cmd_relink,
}


def run() -> NoReturn:
    """The ``photosearch`` command (and ``python -m photosearch_desktop``): :func:`main`, then
    exit. A query that failed (a query photo whose pixels do not decode) can leave the model
    loading ahead of it in a daemon thread, inside ONNX Runtime or torch, and the interpreter's
    shutdown under such a thread aborted the process after the error message ("terminate
    called without an active exception", exit 134 instead of 1). With a thread still running,
    the process leaves at once, its output flushed; the command's work is done by then.
    Ctrl+C (where a command does not handle it itself, as ``index`` does) ends it with one line
    and exit 130, not a traceback."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        code = 130
    if any(t.is_alive() for t in threading.enumerate() if t is not threading.main_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    # File names that are not valid UTF-8 reach Python as lone surrogates: print them back
    # as the bytes they were instead of crashing on them.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "search" and not (args.image or args.photo or args.text or args.add or args.saved):
        parser.error("one of the arguments --image --photo --text --add --saved is required")
    verbose = getattr(args, "verbose", False)
    stderr = logging.StreamHandler()
    stderr.addFilter(WithoutImageData())
    # To stderr only: the command line keeps no log file.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s",
        handlers=[stderr],
    )
    try:
        return COMMANDS[args.command](args)
    except (PhotoSearchError, OSError) as exc:
        if verbose:
            log.exception("failed")
        print(f"photosearch: error: {_one_line(exc)}{_advice(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the contract is one line and exit 1, never a traceback
        log.debug("unexpected failure", exc_info=True)
        if verbose:
            log.exception("unexpected failure")
        print(f"photosearch: error: unexpected {type(exc).__name__}: {_one_line(exc)} (run with -v for details)", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _advice(exc: BaseException) -> str:
    return advice(exc.hint, _action_words) if isinstance(exc, PhotoSearchError) else ""


def _action_words(action: Action, hint: Hint) -> str:
    if action is Action.CHOOSE_MODEL:
        if not hint.model:
            return "choose another model with --model (see 'photosearch models')"
        spec = {m.name: m for m in available_models()}.get(hint.model)
        return f"use --model {hint.model}" + (", which needs no download" if spec and spec.download_mb == 0 else "")
    if action is Action.GIVE_WEIGHTS:
        where = f" from {hint.url}" if hint.url else ""
        return f"download {hint.file_name or 'the weights file'}{where} (on another computer if need be) and pass it with --weights FILE"
    if action is Action.USE_INDEXED_MODEL:
        return f"search with --model {hint.model}" if hint.model else "search with the model the library was indexed with"
    if action is Action.REINSTALL:
        return f"reinstall it: pip install --force-reinstall {hint.package}" if hint.package else "reinstall PhotoSearch"
    return _CLI_WORDS.get(action, "")


_CLI_WORDS = {
    Action.INDEX_LIBRARY: "index the folder first (photosearch index FOLDER)",
    Action.REINDEX: "run 'photosearch index' with that --model to embed every photo again (a full rebuild)",
    Action.USE_INDEXED_WEIGHTS: "pass the weights file the library was indexed with (--weights FILE)",
    Action.CONNECT: "connect to the internet and try again (the weights download once)",
    Action.REPLACE_WEIGHTS: "copy or download the weights file again",
    Action.DOWNLOAD_WEIGHTS_AGAIN: "download them again: run the command again with --redownload-weights",
    Action.UPDATE_APP: "update PhotoSearch",
    Action.CHOOSE_DEVICE: "use --device auto, cpu, cuda, cuda:N or mps",
    Action.FREE_DISK: "free some space, then run the command again",
    Action.CLOSE_OTHERS: "close every other PhotoSearch window and command, then try again",
    Action.WAIT: "wait for it to finish, then try again",
    Action.RESTART: "run the command again",
    Action.USE_TORCH: "run the model with torch (--runtime torch)",
    Action.RECONNECT: "connect the drive or network share that holds the photos, then run 'photosearch index'",
}


if __name__ == "__main__":
    sys.exit(main())
