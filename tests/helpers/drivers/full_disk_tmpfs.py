"""A disk that fills up for real: run as root in a private mount namespace (``unshare -m``),
this mounts a 3 MB tmpfs on DATA (the app's data folder), indexes, fills the tmpfs to the
last byte, adds 150 photos to the library, then indexes, searches, opens, makes a thumbnail
on the full disk, and indexes again once space is freed::

    unshare -m python full_disk_tmpfs.py DATA ROOT WEIGHTS MODEL CONFIG.json

Prints ``RESULT {...}`` with what each step gave.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run(*argv: str) -> tuple[int, str, str]:
    from photosearch_desktop.cli import main as cli_main

    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        code = cli_main(list(argv))
    return code, o.getvalue(), e.getvalue()


def main(argv: list[str]) -> None:
    data, root, weights, model, config = argv[:5]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", data], check=True)
    from lazy_clip_config import register_when_imported

    register_when_imported(config)
    from libgen import write_photo
    from whitebox import catalog_of

    from photosearch_desktop.engine.library import Library

    args = ["--model", model, "--weights", weights]
    out: dict[str, Any] = {}

    def search() -> tuple[int, list[int] | str]:
        code, o, e = run("search", root, "--photo", "2020/home_00.jpg", "-k", "10", "--json", "--no-collapse")
        return code, [r["id"] for r in json.loads(o)] if code == 0 else e

    out["first_index"] = run("index", root, *args, "-q")[0]
    out["search_before"] = search()
    filler = os.path.join(data, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    for block in (1 << 16, 1 << 12, 1 << 9, 1):
        try:
            while os.write(fd, b"\0" * block):
                pass
        except OSError:
            pass
    os.close(fd)
    out["free_bytes"] = os.statvfs(data).f_bavail * os.statvfs(data).f_frsize
    for i in range(150):
        write_photo(Path(root, "new", f"n{i:03d}.jpg"), seed=7000 + i, size=(64, 48))
    code, o, e = run("index", root, *args, "-q")
    out["full_index"] = [code, e.strip()]
    code, o, e = run("status", root, "--json")
    out["full_status"] = [code, json.loads(o) if code == 0 else e.strip()]
    out["full_search"] = search()

    def consistency() -> list[str] | str:
        try:
            with Library(root) as lib:
                return catalog_of(lib).consistency_problems()
        except Exception as exc:  # noqa: BLE001 - reported to the test, which says what it expected
            return f"{type(exc).__name__}: {exc}"

    out["full_consistency"] = consistency()
    thumb = None
    try:
        from photosearch_desktop.ui.thumbnails import make_thumbnail
    except ImportError:
        make_thumbnail = None  # type: ignore[assignment]
    if make_thumbnail is not None:
        from PIL import Image

        def valid(jpg: Path) -> bool:
            with Image.open(jpg) as im:
                im.verify()  # raises on a damaged file
            return True

        cache = Path(data, "cache", "thumbnails")
        image = make_thumbnail(Path(root, "2020/home_00.jpg"), 160, cache)
        thumb = {"shown": not image.isNull(), "cached": sorted(p.name for p in cache.rglob("*") if p.is_file()),
                 "cached_jpgs_valid": all(valid(p) for p in cache.rglob("*.jpg"))}
    out["thumbnail_on_full_disk"] = thumb
    os.remove(filler)
    code, o, e = run("index", root, *args, "-q")
    out["after_freeing"] = [code, e.strip()]
    code, o, e = run("status", root, "--json")
    out["final_status"] = json.loads(o) if code == 0 else e
    out["final_consistency"] = consistency()
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
