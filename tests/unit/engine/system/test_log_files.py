"""engine/system/log_files.py: the log file rotates, stays owner-only through rotations, and
never holds image bytes or vectors."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from privacy import posix_only, umask

from photosearch_desktop.engine.system.log_files import LOG_BACKUPS, LOG_MAX_BYTES, WithoutImageData, log_file_handler


@posix_only
def test_the_log_file_rotates_and_every_file_is_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    with umask(0o022):
        handler = log_file_handler(folder / "photosearch-desktop.log")
        logger = logging.getLogger("photosearch_desktop.test_rotation")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            line = "x" * 1000
            for _ in range(LOG_MAX_BYTES * (LOG_BACKUPS + 2) // 1000):
                logger.warning(line)
        finally:
            logger.removeHandler(handler)
            handler.close()
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["photosearch-desktop.log", "photosearch-desktop.log.1", "photosearch-desktop.log.2"]
    assert all((folder / f).stat().st_size <= LOG_MAX_BYTES for f in files)
    assert sum((folder / f).stat().st_size for f in files) <= LOG_MAX_BYTES * (LOG_BACKUPS + 1) <= 6_000_000
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert {stat.S_IMODE(os.stat(folder / f).st_mode) for f in files} == {0o600}


def _formatted(*args: object, msg: object = "%s") -> str:
    record = logging.LogRecord("photosearch_desktop.x", logging.INFO, __file__, 1, msg, args, None)
    WithoutImageData().filter(record)
    return record.getMessage()


def test_image_bytes_arrays_and_vectors_are_never_formatted() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    vector = np.random.default_rng(0).random(512, dtype=np.float32)
    assert _formatted(jpeg) == f"<{len(jpeg)} bytes>"
    assert _formatted(bytearray(jpeg)) == _formatted(memoryview(jpeg)) == f"<{len(jpeg)} bytes>"
    assert _formatted(vector) == "<array (512,) float32>"
    assert _formatted(np.zeros((2, 224, 224, 3), np.uint8)) == "<array (2, 224, 224, 3) uint8>"
    assert _formatted(vector.tolist()) == "<512 numbers>"
    assert _formatted(list(vector)) == "<512 numbers>"  # numpy scalars too
    assert _formatted(msg=vector) == "<array (512,) float32>"  # log.info(vector)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%(v)s", ({"v": jpeg},), None)
    WithoutImageData().filter(record)
    assert record.getMessage() == f"<{len(jpeg)} bytes>"
    torch = pytest.importorskip("torch")
    assert _formatted(torch.zeros(1, 512)) == "<array (1, 512) torch.float32>"
    # What logs say today passes through as it is.
    assert _formatted("photo 12: decoding took more than 30 s") == "photo 12: decoding took more than 30 s"
    assert _formatted(Path("/x/y.jpg"), 3, 2.5, (1, 2), msg="%s %d %.1f %s") == "/x/y.jpg 3 2.5 (1, 2)"
