"""``photosearch ARGS`` in a process of its own, with an open_clip architecture registered
first (the tests' tiny CLIP is not one of open_clip's own)::

    python cli_with_config.py CONFIG.json ARGS...
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from lazy_clip_config import register_when_imported

    register_when_imported(argv[0])
    from photosearch_desktop.cli import main as cli_main

    return cli_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
