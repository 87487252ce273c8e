"""Paths past Windows's MAX_PATH (engine/system/longpaths.py), built for Windows here."""

from __future__ import annotations

from photosearch_desktop.engine.system.longpaths import LONG, long_path


def test_long_windows_paths_get_the_extended_prefix() -> None:
    deep = "C:\\Users\\Ana\\Pictures\\" + "\\".join(["Album with a rather long name"] * 10) + "\\IMG_0001.JPG"
    assert len(deep) > 260
    assert long_path(deep, "win32") == "\\\\?\\" + deep
    mixed = deep.replace("\\", "/").replace("Pictures/", "Pictures/./x/../")  # Windows would not fix these after \\?\
    assert long_path(mixed, "win32") == "\\\\?\\" + deep
    share = "\\\\nas\\photos\\" + "a" * LONG + "\\b.jpg"
    assert long_path(share, "win32") == "\\\\?\\UNC\\nas\\photos\\" + "a" * LONG + "\\b.jpg"
    assert long_path(long_path(deep, "win32"), "win32") == long_path(deep, "win32")  # once


def test_short_paths_and_other_platforms_are_left_alone() -> None:
    assert long_path("C:\\Users\\Ana\\a.jpg", "win32") == "C:\\Users\\Ana\\a.jpg"
    posix = "/home/ana/" + "a" * 300 + ".jpg"
    assert long_path(posix, "linux") == posix and long_path(posix, "darwin") == posix
