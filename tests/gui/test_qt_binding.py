"""The installed Qt binding itself: a known PySide6 bug would abort the window after a while."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QPoint, QRect, QRectF


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_methods_returning_nothing_keep_none_alive() -> None:
    """PySide6 6.12.0 under Python 3.11 took a reference from None on every such call; the
    window's delegate makes thousands a second while scrolling, until Python aborted with
    "deallocating None" (pyproject.toml keeps exactly that release out)."""
    rect, rect_f = QRect(0, 0, 4, 4), QRectF(0, 0, 4, 4)
    before = sys.getrefcount(None)
    for _ in range(1000):
        rect.moveTo(QPoint(1, 1))
        rect_f.moveTopLeft(rect_f.center())
    assert sys.getrefcount(None) - before > -100, "the Qt binding drops references to None"
