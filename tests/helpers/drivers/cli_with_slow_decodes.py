"""``photosearch ARGS`` on a slow disk: every decode takes 0.2 s more, and adds a byte to
MARKER first, so that the caller knows the run is under way and how far it got::

    python cli_with_slow_decodes.py CONFIG.json MARKER ARGS...
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photosearch_desktop.engine.embed.pipeline import _Decoded
    from photosearch_desktop.engine.models.base import Embedder


def main(argv: list[str]) -> int:
    from lazy_clip_config import register_when_imported

    register_when_imported(argv[0])
    from photosearch_desktop.engine.embed import pipeline

    real = pipeline._decode
    marker = Path(argv[1])

    def decode(root: Path, photo_id: int, rel: str, embedder: Embedder) -> _Decoded:
        with marker.open("ab") as counted:
            counted.write(b".")
        time.sleep(0.2)  # a slow disk: the run lasts a while
        return real(root, photo_id, rel, embedder)

    pipeline._decode = decode
    from photosearch_desktop.cli import main as cli_main

    return cli_main(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
