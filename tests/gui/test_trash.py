"""The system trash takes only what the person saw, where they saw it: a photo that is a symbolic
link goes as the link (its target outside the library stays), and a photo changed since the
duplicate groups were found is kept back with a message (efficientnet-lite2; the system trash is
redirected under ``tmp_path``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox
from test_gui import INDEX_TIMEOUT_MS, QUERY_TIMEOUT_MS, _pattern, _write, new_window, wait_indexed

from photosearch_desktop.ui.duplicates_dialog import DuplicatesDialog, PhotoTile
from photosearch_desktop.ui.trash import LINKS_GO_ALONE, move_to_trash

BEACH, SMALL, LINK = "2019/beach.jpg", "2019/beach small.jpg", "backup/beach.jpg"


@pytest.fixture
def trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "xdg").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the system trash, on this disk
    return tmp_path / "xdg" / "Trash" / "files"


@pytest.mark.skipif(not LINKS_GO_ALONE, reason="Qt's FreeDesktop trash only (links are kept back elsewhere)")
def test_qts_trash_moves_a_link_itself_never_its_target(tmp_path: Path, trash: Path) -> None:
    """What ui/trash.py relies on to let a link go: the installed Qt renames the link."""
    target = tmp_path / "elsewhere" / "photo.jpg"
    target.parent.mkdir()
    target.write_bytes(b"the only copy")
    link = tmp_path / "library" / "photo.jpg"
    link.parent.mkdir()
    link.symlink_to(target)
    assert move_to_trash(str(link))
    assert not os.path.lexists(link)
    assert (trash / "photo.jpg").is_symlink() and target.read_bytes() == b"the only copy"


@pytest.fixture
def linked_library(tmp_path: Path) -> Path:
    """A photo, a smaller copy, and a backup that is a link to a copy outside the library."""
    root = tmp_path / "Photos"
    _write(root / BEACH, _pattern(1, (320, 240)), "2019:07:01 10:00:00")
    with Image.open(root / BEACH) as im:
        im.resize((160, 120), Image.Resampling.LANCZOS).save(root / SMALL, quality=70)
    outside = tmp_path / "elsewhere" / "beach copy.jpg"
    outside.parent.mkdir()
    shutil.copyfile(root / BEACH, outside)
    (root / "backup").mkdir()
    (root / LINK).symlink_to(outside)
    for i in range(2, 5):
        _write(root / f"2020/other{i}.jpg", _pattern(i, (240, 180)), f"2020:01:0{i} 10:00:00")
    return root


def tile(dialog: DuplicatesDialog, rel_path: str) -> PhotoTile:
    return next(t for t in dialog.tiles if t.photo.rel_path == rel_path)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_duplicates_trash_a_link_alone_and_keep_back_a_photo_changed_since_grouping(
    qtbot, linked_library: Path, data_dir: Path, tmp_path: Path, trash: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    outside = tmp_path / "elsewhere" / "beach copy.jpg"
    original = outside.read_bytes()
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda _parent, _title, text, *a, **k: warnings.append(text)))
    window = new_window(qtbot, data_dir)
    window.library.open(linked_library)
    wait_indexed(qtbot, window, photos=6)
    window.commands["find_duplicates"].trigger()
    dialog = window.library.duplicates_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.labelled and any(t.photo.rel_path == LINK for t in dialog.tiles),
                    timeout=QUERY_TIMEOUT_MS)

    # The link, ticked alone (copies start ticked: cleared first) and confirmed.
    dialog.clear_selection()
    tile(dialog, LINK).check.setChecked(True)
    dialog.move_selected_to_trash()
    if LINKS_GO_ALONE:
        assert not os.path.lexists(linked_library / LINK) and (trash / "beach.jpg").is_symlink()
        assert "Moved 1 photo" in dialog.status.text() and not warnings
    else:  # kept back, with the reason
        assert (linked_library / LINK).is_symlink() and "link" in warnings[-1]
    assert outside.read_bytes() == original  # the file outside the library is never touched

    # The smaller copy is edited after the groups were found (and after the index update the
    # trash started): kept back, and the person is told.
    qtbot.waitUntil(lambda: not window.session.indexing, timeout=INDEX_TIMEOUT_MS)
    small = linked_library / SMALL
    before = small.read_bytes()
    with Image.open(small) as im:
        im.rotate(90).save(small, quality=70)
    warnings.clear()
    dialog.clear_selection()
    tile(dialog, SMALL).check.setChecked(True)
    dialog.move_selected_to_trash()
    assert small.exists() and small.read_bytes() != before and not (trash / "beach small.jpg").exists()
    assert len(warnings) == 1
    assert "beach small.jpg: not moved, it changed since the duplicates were found" in warnings[0]
    assert "Moved 0 photos to the Trash. 1 not moved." in dialog.status.text()
    dialog.close()
