"""Log files: owner-only, rotated, and never holding a photo's content or its vector.

The window writes one log file (the command line logs to stderr only; the model's process sends
its records to its caller): at most ``LOG_MAX_BYTES`` per file and ``LOG_BACKUPS`` older files,
so 6 MB in all. Every handler the front ends install carries :class:`WithoutImageData`.
"""

from __future__ import annotations

import logging
import logging.handlers
import numbers
from collections.abc import Mapping
from io import TextIOWrapper
from pathlib import Path
from typing import Any

from .private_files import open_private, private_dir

LOG_MAX_BYTES = 2_000_000
LOG_BACKUPS = 2
_SHORT_SEQUENCE = 16  # a list of numbers longer than this is taken for a vector


class WithoutImageData(logging.Filter):
    """Replaces what a log call's arguments could carry of a photo: bytes (of an image file)
    by ``<N bytes>``, arrays and tensors (pixels, vectors) by ``<array SHAPE DTYPE>``, a long
    list of numbers (a vector) by ``<N numbers>``. Everything else is logged as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            record.msg = _harmless(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _harmless(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_harmless(value) for value in record.args)
        return True


def _harmless(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"<array {tuple(shape)} {dtype}>"
    if isinstance(value, (list, tuple)) and len(value) > _SHORT_SEQUENCE \
            and all(isinstance(v, numbers.Real) for v in value):
        return f"<{len(value)} numbers>"
    return value


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Opens its file (the first, and each new one after a rotation) owner-only."""

    def _open(self) -> TextIOWrapper:
        stream = open_private(Path(self.baseFilename), self.mode, encoding=self.encoding, errors=self.errors)
        assert isinstance(stream, TextIOWrapper)
        return stream


def log_file_handler(path: Path) -> logging.Handler:
    """A rotating log file at ``path``, owner-only in an owner-only folder, that never logs
    image data (OSError if it cannot be opened)."""
    private_dir(path.parent)
    handler = _PrivateRotatingFileHandler(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    handler.addFilter(WithoutImageData())
    return handler
