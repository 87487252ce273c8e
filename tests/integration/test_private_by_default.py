"""What the app keeps about the photos is readable by its owner alone: the catalog (and its WAL and
SHM files), the vector cache and the writer lock, created by indexing and searching with the
usual umask 022; an install made by the previous version (files 0644 in folders 0755) tightened
by the next start; and no log record that carries image bytes or a vector.

The window's own files (thumbnails, settings, log file) are checked in tests/gui/test_private_window.py.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from libgen import make_library, near_copy, picture
from privacy import loose_paths, loosen, posix_only, readable_by_another_account, umask

from photosearch_desktop.cli import main
from photosearch_desktop.engine.library import Library, app_dirs

pytestmark = posix_only


@pytest.fixture
def shared_place() -> Iterator[Path]:
    """A folder every account can enter (``tmp_path`` lies under pytest's own 0700 folder, where
    no other account could reach anything anyway)."""
    place = Path(tempfile.mkdtemp(prefix="photosearch-privacy-"))
    os.chmod(place, 0o755)
    try:
        yield place
    finally:
        for folder, dirs, files in os.walk(place, topdown=False):
            for name in files:
                os.unlink(os.path.join(folder, name))
            for name in dirs:
                path = os.path.join(folder, name)
                os.unlink(path) if os.path.islink(path) else os.rmdir(path)
        os.rmdir(place)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_indexing_and_searching_write_nothing_another_account_can_read(
    shared_place: Path, tmp_path: Path, tiny_clip, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    _name, weights, config = tiny_clip
    name = f"clip:{config}"  # a config file: the model process (below) cannot see this process's registrations
    root = make_library(tmp_path / "Photos")
    query = tmp_path / "query.jpg"
    near_copy(picture(105)).save(query)
    chosen = shared_place / "PhotoSearch data"  # --data-dir: chosen by the person, and there already
    chosen.mkdir()
    os.chmod(chosen, 0o755)
    model = ["--model", name, "--weights", str(weights), "--data-dir", str(chosen)]
    with umask(0o022):
        assert main(["index", str(root), *model, "-q"]) == 0
        assert main(["search", str(root), *model, "--image", str(query)]) == 0
        assert main(["search", str(root), *model, "--text", "a dog"]) == 0
        assert main(["dupes", str(root), *model]) == 0
        assert main(["status", str(root), "--data-dir", str(chosen)]) == 0
        # The window's way: the model in its own process, the library open while it is checked
        # (SQLite removes its WAL and SHM files when the last connection closes).
        with Library(root, data_dir=chosen, model=name, weights=weights, model_process=True) as lib:
            lib.index()
            lib.search_text("a cat")
            catalog = lib.data_dir / "catalog.sqlite"
            while_open = {p.name: mode(p) for p in lib.data_dir.iterdir()}
    capsys.readouterr()
    assert {"catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "writer.lock", "vectors.faiss",
            "vectors.json"} <= set(while_open)
    assert set(while_open.values()) == {0o600}, while_open
    dirs = app_dirs(chosen)
    made = [folder for folder in dirs.own_folders() if folder.exists()]
    assert [loose_paths(folder) for folder in made] == [[]] * len(made)  # libraries/, cache/ (the ONNX graphs)
    assert dirs.libraries in made
    assert mode(chosen) == 0o755  # the person's folder is left as it is
    assert mode(dirs.libraries) == 0o700 and mode(lib.data_dir) == 0o700

    # The proof that counts: another account cannot read the catalog, though it could read a
    # file left 0644 next to it (so the check can fail).
    control = chosen / "control.txt"
    control.write_text("readable")
    os.chmod(control, 0o644)
    assert readable_by_another_account(control)
    assert not readable_by_another_account(catalog)


def test_an_install_of_the_previous_version_is_tightened_at_the_next_start(
    tmp_path: Path, tiny_clip, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    name, weights, _ = tiny_clip
    root = make_library(tmp_path / "Photos")
    chosen = tmp_path / "data"
    model = ["--model", name, "--weights", str(weights), "--data-dir", str(chosen)]
    assert main(["index", str(root), *model, "-q"]) == 0
    dirs = app_dirs(chosen)
    for folder in (dirs.thumbnails / "ab", dirs.logs, dirs.config):  # what the window adds
        folder.mkdir(parents=True)
        (folder / "file").write_text("the previous version's")
    changed = loosen(chosen)
    assert changed > 10 and loose_paths(dirs.libraries)
    with caplog.at_level(logging.INFO, logger="photosearch_desktop"):
        assert main(["status", str(root), "--data-dir", str(chosen)]) == 0
    capsys.readouterr()
    lines = [r.getMessage() for r in caplog.records if "readable by their owner alone" in r.getMessage()]
    assert len(lines) == 1, lines
    assert [loose_paths(folder) for folder in dirs.own_folders()] == [[]] * 4
    assert mode(chosen) == 0o755  # the chosen folder itself is the person's
    # Searching reads the tightened files as before.
    assert main(["search", str(root), *model, "--text", "a dog", "-k", "3", "--no-collapse"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


class RawRecords(logging.Handler):
    """Every record as the code made it, before any filter."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _carries_image_data(value: object) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview, np.ndarray)) or hasattr(value, "dtype"):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 16 and all(isinstance(v, (int, float)) for v in value)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_no_log_record_of_indexing_searching_or_duplicates_carries_image_data(
    tmp_path: Path, tiny_clip, data_dir: Path  # type: ignore[no-untyped-def]
) -> None:
    """At DEBUG, through the whole engine (the model in its own process too, whose records reach
    the caller): no argument is bytes, an array or a vector, and no message is longer than a
    traceback-free line could need."""
    _name, weights, config = tiny_clip
    root = make_library(tmp_path / "Photos")
    near_copy(picture(105)).save(root / "2019" / "copy.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff" + bytes(5000))  # a JPEG cut short: logged why
    raw = RawRecords()
    logger = logging.getLogger()
    old_level = logger.level
    logger.addHandler(raw)
    logger.setLevel(logging.DEBUG)
    try:
        with Library(root, data_dir=data_dir, model=f"clip:{config}", weights=weights, model_process=True) as lib:
            lib.index()
            lib.search_image(root / "2019" / "copy.jpg")
            lib.search_text("a dog")
            lib.find_duplicates(0.5)
    finally:
        logger.removeHandler(raw)
        logger.setLevel(old_level)
    ours = [r for r in raw.records if r.name.startswith("photosearch")]
    assert any("(model process)" in r.getMessage() for r in ours)  # the model process's records are seen
    assert any("skipped photo" in r.getMessage() for r in ours)
    for r in ours:
        args = r.args.values() if isinstance(r.args, dict) else (r.args or ())
        assert not any(_carries_image_data(a) for a in (r.msg, *args)), r.getMessage()[:200]
        assert len(r.getMessage()) < 1000, r.getMessage()[:200]
