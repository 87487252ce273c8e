"""The Find duplicates dialog and collapsed results, driven as a person would (efficientnet-lite2,
a small generated library; the system trash is redirected under ``tmp_path``)."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox
from test_gui import QUERY_TIMEOUT_MS, _pattern, _write, drop_files, new_window, result_paths, wait_indexed
from whitebox import catalog_of

from photosearch_desktop.engine.records import IDENTICAL, KEEPER_RULE, SAME_PHOTO, SIMILAR_SHOT
from photosearch_desktop.ui.duplicates_dialog import SLIDER_MIN, DuplicatesDialog, PhotoTile
from photosearch_desktop.ui.main_window import MainWindow

COPIES = {"2019/Trips/beach.jpg", "2019/Trips/beach small.jpg", "backup/beach.jpg"}
SHOTS = {"2019/Trips/beach again.jpg", "2019/Trips/beach later.jpg"}  # other shots of the scene


def _another_shot(dx: int, dy: int, zoom: float) -> Image.Image:
    """The beach seen after a step of the camera: moved and closer (efficientnet-lite2 cosine
    ~0.94 to the beach photo, above its duplicate threshold; not a copy)."""
    big = _pattern(1, (320, 240)).resize((round(320 * zoom), round(240 * zoom)))
    return big.crop((dx, dy, dx + 320, dy + 240))


@pytest.fixture
def dup_library(tmp_path: Path) -> Path:
    """One photo with a byte-identical backup and a smaller re-encoded copy, two other shots of
    its scene (no camera facts: the beach photo is their keeper), among others."""
    root = tmp_path / "Photos"
    _write(root / "2019/Trips/beach.jpg", _pattern(1, (320, 240)), "2019:07:01 10:00:00")
    (root / "backup").mkdir()
    shutil.copyfile(root / "2019/Trips/beach.jpg", root / "backup/beach.jpg")
    with Image.open(root / "2019/Trips/beach.jpg") as im:
        im.resize((160, 120), Image.Resampling.LANCZOS).save(root / "2019/Trips/beach small.jpg", quality=70)
    _another_shot(12, 8, 1.1).save(root / "2019/Trips/beach again.jpg", quality=88)
    _another_shot(30, 20, 1.15).save(root / "2019/Trips/beach later.jpg", quality=88)
    for i in range(2, 7):  # smaller: the beach photo is the first keeper, whatever it groups
        _write(root / f"2020/other{i}.jpg", _pattern(i, (240, 180)), f"2020:01:0{i} 10:00:00")
    return root


def open_dialog(qtbot, window: MainWindow) -> DuplicatesDialog:  # type: ignore[no-untyped-def]
    window.commands["find_duplicates"].trigger()
    dialog = window.library.duplicates_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.labelled, timeout=QUERY_TIMEOUT_MS)
    return dialog


def beach_group(dialog: DuplicatesDialog):  # type: ignore[no-untyped-def]
    return next(g for g in dialog.groups if g.keeper.rel_path in COPIES)


def tile(dialog: DuplicatesDialog, rel_path: str) -> PhotoTile:
    return next(t for t in dialog.tiles if t.photo.rel_path == rel_path)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_duplicates_dialog_groups_labels_slider_export_and_trash(qtbot, dup_library: Path, data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "xdg").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the system trash, on this disk
    window = new_window(qtbot, data_dir)
    window.library.open(dup_library)
    wait_indexed(qtbot, window, photos=10)
    assert window.commands["find_duplicates"].isEnabled()
    dialog = open_dialog(qtbot, window)

    # The keeper: same resolution and size as its backup copy, so the path decides; the rule and
    # why this keeper are stated next to it. Members are labelled against it, in two tiers.
    group = beach_group(dialog)
    assert group.keeper.rel_path == "2019/Trips/beach.jpg"
    labels = {m.photo.rel_path: m.label for m in group.members}
    assert labels["backup/beach.jpg"] == IDENTICAL and labels["2019/Trips/beach small.jpg"] == SAME_PHOTO
    assert all(labels[shot] == SIMILAR_SHOT for shot in SHOTS)
    # (Other generated pictures may join as similar shots: colour noise looks alike to the model.)
    assert {m.photo.rel_path for m in group.copies} == COPIES - {group.keeper.rel_path}
    assert SHOTS <= {m.photo.rel_path for m in group.similar}
    assert all(m.label == SIMILAR_SHOT and not m.selected_by_default for m in group.similar)
    keeper_tile = tile(dialog, "2019/Trips/beach.jpg")
    assert keeper_tile.role.text() == "Suggested keeper" and keeper_tile.role.toolTip() == KEEPER_RULE
    assert keeper_tile.why.text() == f"Why: {group.keeper_reason}" and "first by name" in group.keeper_reason
    assert "identical file" in tile(dialog, "backup/beach.jpg").role.text()
    assert "320×240" in keeper_tile.facts.text() and "2019-07-01" in keeper_tile.facts.text()
    assert KEEPER_RULE in dialog.rule_label.text()
    qtbot.waitUntil(lambda: keeper_tile.thumb.pixmap() is not None and not keeper_tile.thumb.pixmap().isNull(),
                    timeout=QUERY_TIMEOUT_MS)

    # Copies are ticked for removal; the keeper and the similar shots are not.
    ticked = {t.photo.rel_path for t in dialog.selected()}
    assert COPIES - {"2019/Trips/beach.jpg"} <= ticked and not ticked & (SHOTS | {"2019/Trips/beach.jpg"})
    # "Select all but keepers" never ticks a similar shot, not even after a clear.
    dialog.clear_selection()
    assert not dialog.selected()
    qtbot.mouseClick(dialog.select_others, Qt.MouseButton.LeftButton)
    assert {t.photo.rel_path for t in dialog.selected()} == ticked
    assert all(t.tier == "copy" for t in dialog.selected())

    # The slider regroups in the background without searching again: at 0.99 only the copies
    # of one picture stay together (identical files and confirmed copies, whatever the slider).
    started = time.perf_counter()
    dialog.slider.setValue(99)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("1 group") and "0.99" in dialog.status.text(),
                    timeout=5000)
    regroup_s = time.perf_counter() - started
    print(f"regrouped in {regroup_s:.2f} s (of which {0.25:.2f} s waiting for the slider to settle)")
    assert regroup_s < 2.0
    assert [{p.rel_path for p in g.photos} for g in dialog.groups] == [COPIES]

    # Export CSV: one row per photo, the keeper's first.
    target = tmp_path / "exported.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    with open(target, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["role"] for r in rows] == ["keeper", "member", "member"]
    assert rows[0]["path"] == "2019/Trips/beach.jpg" and {r["label"] for r in rows[1:]} == {IDENTICAL, SAME_PHOTO}
    assert not list(dup_library.rglob("*.csv"))

    # Move to Trash asks first, naming how many and how many of them are copies or similar shots;
    # "Cancel" changes nothing.
    small = dup_library / "2019/Trips/beach small.jpg"
    asked: list[str] = []

    def answer(button):  # type: ignore[no-untyped-def]
        def ask(_parent, _title, text, *_args, **_kwargs):  # type: ignore[no-untyped-def]
            asked.append(text)
            return button
        return ask

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.StandardButton.Cancel)))
    dialog.slider.setValue(SLIDER_MIN)  # the shots are back, unticked
    qtbot.waitUntil(lambda: any(t.photo.rel_path in SHOTS for t in dialog.tiles), timeout=5000)
    dialog.clear_selection()
    for path in ("backup/beach.jpg", "2019/Trips/beach small.jpg", "2019/Trips/beach again.jpg"):  # by hand
        tile(dialog, path).check.setChecked(True)
    assert "Move 3 to Trash" in dialog.trash_button.text()
    qtbot.mouseClick(dialog.trash_button, Qt.MouseButton.LeftButton)
    assert "Move 3 photos to the Trash?" in asked[-1]
    assert "Of these, 2 are copies of a photo that stays; 1 is a similar shot: another picture, not a copy." in asked[-1]
    assert small.exists() and all((dup_library / p).exists() for p in COPIES | SHOTS)

    dialog.clear_selection()
    tile(dialog, "2019/Trips/beach small.jpg").check.setChecked(True)
    assert dialog.trash_button.isEnabled() and "1" in dialog.trash_button.text()
    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.StandardButton.Yes)))
    qtbot.mouseClick(dialog.trash_button, Qt.MouseButton.LeftButton)
    assert not small.exists()
    assert (tmp_path / "xdg/Trash/files/beach small.jpg").read_bytes()  # recoverable
    assert "Moved 1 photo" in dialog.status.text()
    # The index follows, and the dialog regroups from it.
    qtbot.waitUntil(lambda: catalog_of(window.session.library).photo_by_path("2019/Trips/beach small.jpg") is None,
                    timeout=QUERY_TIMEOUT_MS)
    def regrouped() -> bool:
        photos = {p.rel_path for p in beach_group(dialog).photos} if dialog.labelled and dialog.groups else set()
        return (COPIES | SHOTS) - {"2019/Trips/beach small.jpg"} <= photos and "2019/Trips/beach small.jpg" not in photos

    qtbot.waitUntil(regrouped, timeout=QUERY_TIMEOUT_MS)
    dialog.close()
    qtbot.waitUntil(lambda: window.library.duplicates_dialog is None)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_collapsed_results_show_one_picture_with_a_badge(qtbot, dup_library: Path, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = new_window(qtbot, data_dir)
    window.library.open(dup_library)
    wait_indexed(qtbot, window, photos=10)
    assert window.filters.collapse_check.isChecked()  # on by default

    query = tmp_path / "query.jpg"
    with Image.open(dup_library / "2019/Trips/beach.jpg") as im:
        im.resize((200, 150)).save(query, quality=80)
    drop_files(window, query)
    qtbot.waitUntil(lambda: bool(result_paths(window)), timeout=QUERY_TIMEOUT_MS)
    first = window.photo_model.item(0)
    shown = set(result_paths(window))
    assert first.photo.rel_path in COPIES and len(shown & COPIES) == 1  # one picture, once
    folded = {f.photo.rel_path for f in first.folded}
    assert folded == COPIES - {first.photo.rel_path}  # its copies, and only those
    assert SHOTS <= shown  # other shots of the scene stay results of their own
    tooltip = window.photo_model.data(window.photo_model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert f"+{len(first.folded)} folded under it: copies" in tooltip
    window.grid.viewport().grab()  # paints the "+n" badge without error

    # "Also fold similar shots": the shots (cosine ~0.94 to it) fold under the beach photo too.
    assert not window.filters.similar_check.isChecked()  # off by default
    window.filters.similar_check.setChecked(True)
    qtbot.waitUntil(lambda: not SHOTS & set(result_paths(window)), timeout=QUERY_TIMEOUT_MS)
    assert SHOTS <= {f.photo.rel_path for f in window.photo_model.item(0).folded}

    window.filters.collapse_check.setChecked(False)
    assert not window.filters.similar_check.isEnabled()
    qtbot.waitUntil(lambda: COPIES | SHOTS <= set(result_paths(window)), timeout=QUERY_TIMEOUT_MS)
    assert all(not window.photo_model.item(i).folded for i in range(window.photo_model.rowCount()))
