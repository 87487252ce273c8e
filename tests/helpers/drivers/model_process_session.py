"""A session with the model in a process of its own, in a fresh interpreter so that "was torch
imported?" means something: index, search by image and text, kill the model process, call
it, search again, close::

    python model_process_session.py ROOT DATA_DIR MODEL WEIGHTS QUERY

Prints one JSON line: the results, what the call after the kill raised, both model process
ids, whether torch was imported here, and the log records forwarded from the model process.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> None:
    from photosearch_desktop.engine.library import Library

    root, data_dir, model, weights, query = argv[:5]
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    lib = Library(root, data_dir=data_dir, model=model, weights=weights, model_process=True)
    lib.index()

    def listed(results: Any) -> list[tuple[str, float]]:
        return [(r.photo.rel_path, r.score) for r in results]

    out: dict[str, Any] = {
        "image": listed(lib.search_image(Path(query), k=5)),
        "text": listed(lib.search_text("a red square", k=5)),
    }
    first: Any = lib.embedder()
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while first.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        first.encode_text(["anything"])
    except Exception as exc:  # noqa: BLE001 - reported to the test, which says what it expected
        out["call_after_kill"] = [type(exc).__name__, str(exc)]
    out["after_kill"] = listed(lib.search_image(Path(query), k=5))
    second: Any = lib.embedder()
    out["pids"] = [first.pid, second.pid]
    lib.close()
    try:
        os.kill(second.pid, 0)
        out["stopped_on_close"] = False
    except ProcessLookupError:
        out["stopped_on_close"] = True
    out["torch_imported"] = "torch" in sys.modules
    out["forwarded_logs"] = [r.getMessage() for r in records if r.getMessage().startswith("(model process)")]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
