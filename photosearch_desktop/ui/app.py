"""``photosearch-desktop [LIBRARY] [--data-dir DIR] [--model NAME]``: start the window.

This module imports no Qt: it first checks that Qt can open a window here (ui/startup.py) and
says in a line or two why not, exit 1, where Qt itself would abort with a core dump. The
desktop entry options need no window at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__
from ..engine.library import DATA_DIR_ENV
from . import desktop_entry
from .startup import StartProblem, import_problem, qt_start_problem


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photosearch-desktop", description="Search your own photos by what they look like."
    )
    parser.add_argument("library", nargs="?", type=Path, help="the photo folder (default: the last one used)")
    parser.add_argument("--data-dir", type=Path, help=f"where the index, thumbnails and settings live (env {DATA_DIR_ENV})")
    parser.add_argument("--model", help="model for this library (switching an indexed library re-indexes it)")
    parser.add_argument("--weights", type=Path, help="local CLIP checkpoint instead of downloading")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (to the log file and stderr)")
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument("--install-desktop-entry", action="store_true",
                       help="add PhotoSearch to this user's app launcher and to folders' \"Open with\" (Linux)")
    entry.add_argument("--uninstall-desktop-entry", action="store_true",
                       help="remove what --install-desktop-entry added")
    parser.add_argument("--version", action="version", version=f"photosearch-desktop {__version__}")
    return parser


def _say(text: str) -> None:
    if sys.stderr is not None:  # None under pythonw, where there is nobody to read it
        print(text, file=sys.stderr)


def _refuse(problem: StartProblem) -> int:
    for line in problem.lines:
        _say(line)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.install_desktop_entry:
        for path in desktop_entry.install():
            _say(f"wrote {path}")
        return 0
    if args.uninstall_desktop_entry:
        for path in desktop_entry.uninstall():
            _say(f"removed {path}")
        return 0
    problem = qt_start_problem()
    if problem is not None:
        return _refuse(problem)
    try:
        from .heavy_imports import lighten_pyside_import_hook

        lighten_pyside_import_hook()  # before the window's own modules are imported
        from .window_app import run
    except ImportError as exc:  # a system library of Qt's GUI modules is missing
        return _refuse(import_problem(exc))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
