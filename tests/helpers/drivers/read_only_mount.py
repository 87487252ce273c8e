"""Index, search (by image, photo and text), status and thumbnails on a library that the
caller has mounted read-only; first a probe shows whether writing there fails::

    python read_only_mount.py CONFIG.json ROOT WEIGHTS MODEL QUERY

Prints ``RESULT {"probe": "EROFS" or "writable", "codes": [...], "thumbs": [...] or null}``.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    from lazy_clip_config import register_when_imported

    register_when_imported(argv[0])
    from photosearch_desktop.cli import main as cli_main

    root, weights, model, query = argv[1:5]
    probe = "writable"
    try:
        open(os.path.join(root, "probe.txt"), "w").close()
    except OSError as exc:
        probe = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    args = ["--model", model, "--weights", weights]
    codes = [cli_main(c) for c in (
        ["index", root, *args, "-q"],
        ["search", root, *args, "--image", query, "--json"],
        ["search", root, *args, "--photo", "2020/home_00.jpg", "--json"],
        ["search", root, *args, "--text", "a dog", "--json"],
        ["status", root, "--json"],
    )]
    thumbs = None
    if importlib.util.find_spec("PySide6"):  # the engine's tests run without the window's toolkit
        from photosearch_desktop.ui.thumbnails import make_thumbnail

        cache = Path(os.environ["PHOTOSEARCH_DATA_DIR"]) / "thumbs"
        thumbs = [not make_thumbnail(Path(root) / r, 160, cache).isNull() for r in ("2019/Trips/trip_03.jpg", "2020/drawing.png")]
    print("RESULT " + json.dumps({"probe": probe, "codes": codes, "thumbs": thumbs}))


if __name__ == "__main__":
    main(sys.argv[1:])
