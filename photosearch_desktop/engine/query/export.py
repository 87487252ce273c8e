"""Taking results elsewhere: a CSV of them, or copies of the files in a folder of the person's
choice. The library is only read: copies never go inside it, and nothing is ever moved."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import Action, LibraryError, hint
from ..records import SearchResult

CSV_COLUMNS = ("rank", "path", "abs_path", "score", "taken_at", "taken_source", "width", "height")


def write_csv(results: Sequence[SearchResult], target: Path) -> None:
    """Written beside ``target`` and renamed over it: a reader never sees half a file."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with open(partial, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(CSV_COLUMNS)
            for rank, r in enumerate(results, 1):
                p = r.photo
                score = f"{r.score:.6f}" if r.score == r.score else ""  # browsing rows have no score (NaN)
                out.writerow([rank, p.rel_path, r.abs_path, score, p.taken_at.isoformat() if p.taken_at else "",
                              p.taken_source or "", p.width or "", p.height or ""])
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        why = f"the folder {target.parent} does not exist" if not target.parent.is_dir() else exc.strerror or str(exc)
        raise LibraryError(f"Cannot write the CSV file {target}: {why}.", hint(Action.CHECK_INPUT)) from exc


def copy_files(
    sources: Sequence[Path], folder: Path, library_root: Path, progress: Callable[[int, int], None] | None = None
) -> list[Path]:
    """Copy ``sources`` into ``folder`` (created if needed), keeping their dates; a name that is
    taken gets " (2)", " (3)"... Refused when ``folder`` lies inside the library."""
    folder = folder.expanduser().resolve()
    if folder == library_root or folder.is_relative_to(library_root):
        raise LibraryError(
            f"{folder} is inside the photo library: copies there would become photos of the library. "
            "Choose a folder outside it.",
            hint(Action.CHECK_INPUT),
        )
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for n, source in enumerate(sources, 1):
        target = _free_name(folder / source.name)
        shutil.copy2(source, target)
        copied.append(target)
        if progress:
            progress(n, len(sources))
    return copied


def _free_name(target: Path) -> Path:
    candidate, n = target, 2
    while candidate.exists():
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        n += 1
    return candidate
