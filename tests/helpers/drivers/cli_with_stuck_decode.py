"""``photosearch ARGS`` where the decode of the library photo REL never returns (a read from a
dead network drive), and the decode timeout is 1 s instead of the default::

    python cli_with_stuck_decode.py CONFIG.json REL ARGS...
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photosearch_desktop.engine.embed.pipeline import PipelineResult, _Decoded
    from photosearch_desktop.engine.models.base import Embedder
    from photosearch_desktop.engine.records import PipelineOptions


def main(argv: list[str]) -> int:
    from lazy_clip_config import register_when_imported

    register_when_imported(argv[0])
    from photosearch_desktop.engine import indexer
    from photosearch_desktop.engine.embed import pipeline

    stuck = argv[1]
    real_decode = pipeline._decode
    real_embed: Callable[..., Any] = indexer.embed_pending

    def decode(root: Path, photo_id: int, rel: str, embedder: Embedder) -> _Decoded:
        if rel == stuck:
            time.sleep(3600)  # never returns within the test
        return real_decode(root, photo_id, rel, embedder)

    def embed(
        root: Path, jobs: Sequence[tuple[int, str]], embedder: Embedder, store: Any, progress: Any = None,
        cancel: Any = None, options: PipelineOptions | None = None,
    ) -> PipelineResult:
        assert options is not None  # the indexer always passes its options
        return real_embed(root, jobs, embedder, store, progress, cancel, dataclasses.replace(options, decode_timeout=1.0))

    pipeline._decode, indexer.embed_pending = decode, embed
    from photosearch_desktop.cli import main as cli_main

    return cli_main(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
