"""Browsed rows are read a page at a time: a photo whose record is gone keeps its row, empty,
and every other row still shows the photo its id names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from photosearch_desktop.engine.records import PhotoRecord
from photosearch_desktop.ui.photo_model import PhotoModel
from photosearch_desktop.ui.thumbnails import ThumbnailCache


def _record(i: int) -> PhotoRecord:
    return PhotoRecord(i, f"a/{i}.jpg", "a", 0, 0, 10, 10, None, None, None, None, None, None, "indexed", None)


def test_a_missing_record_keeps_its_row_and_the_rows_after_it_keep_their_photos(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = np.arange(100, 110, dtype=np.int64)
    gone = 103  # deleted by an update while the list was shown

    def load_page(page_ids: list[int], done: Callable[[dict[int, PhotoRecord]], None]) -> None:
        done({i: _record(i) for i in page_ids if i != gone})

    model = PhotoModel(ThumbnailCache(), 100)
    model.set_browse(tmp_path, ids, load_page)
    model.item(0)  # reads the page
    shown = [model.item(r) for r in range(len(ids))]
    assert shown[3] is None
    assert [item.photo.id for item in shown if item is not None] == [i for i in ids.tolist() if i != gone]
    assert all(item.photo.id == model.photo_ids([r])[0] for r, item in enumerate(shown) if item is not None)
    assert shown[4] is not None and shown[4].abs_path == str(tmp_path / "a" / "104.jpg")
