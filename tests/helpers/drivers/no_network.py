"""Index and search with tiny CLIP (--weights) and efficientnet-lite2 while an audit hook,
installed before anything else is imported, refuses and records every connection, name
lookup or HTTP request; then one connection of its own proves that the hook sees them::

    EFF_DATA=DIR python no_network.py CONFIG.json ROOT WEIGHTS MODEL QUERY

Prints ``RESULT {"codes": ..., "attempts": [...], "control": ..., "control_seen": ...}``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

NETWORK_EVENTS = (
    "socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto",
    "socket.sendmsg", "http.client.connect", "urllib.Request", "ftplib.connect", "smtplib.connect",
)
attempts: list[str] = []


def hook(event: str, args: tuple[Any, ...]) -> None:
    if event in NETWORK_EVENTS:
        attempts.append(f"{event} {args!r:.200}")
        raise OSError(f"test: network access ({event}) is not allowed")


def main(argv: list[str]) -> None:
    from lazy_clip_config import register_when_imported

    register_when_imported(argv[0])
    from photosearch_desktop.cli import main as cli_main

    root, weights, model, query = argv[1:5]
    clip = ["--model", model, "--weights", weights]
    eff_data = os.environ["EFF_DATA"]
    codes = {}
    for name, args in (
        ("index clip", ["index", root, *clip, "-q"]),
        ("search image clip", ["search", root, *clip, "--image", query]),
        ("search photo clip", ["search", root, *clip, "--photo", "2020/home_00.jpg"]),
        ("search text clip", ["search", root, *clip, "--text", "dog on a beach"]),
        ("status", ["status", root]),
        ("index efficientnet", ["index", root, "--model", "efficientnet-lite2", "--data-dir", eff_data, "-q"]),
        ("search image efficientnet",
         ["search", root, "--model", "efficientnet-lite2", "--data-dir", eff_data, "--image", query]),
        ("search photo efficientnet", ["search", root, "--data-dir", eff_data, "--photo", "2020/home_00.jpg"]),
    ):
        codes[name] = cli_main(args)
    seen, control = list(attempts), None
    import socket

    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)  # the hook must see this one
    except OSError as exc:
        control = str(exc)
    result = {"codes": codes, "attempts": seen, "control": control, "control_seen": len(attempts) > len(seen)}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    sys.addaudithook(hook)  # before anything else is imported
    main(sys.argv[1:])
