"""What the window hands to the desktop on each platform (ui/desktop.py, ui/trash.py): the
commands are built for Windows, macOS and Linux here and asserted, never run."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from PySide6.QtCore import QUrl

from photosearch_desktop.ui import desktop
from photosearch_desktop.ui.trash import DRIVE_FIXED, has_recycle_bin, move_to_trash

DRIVE_REMOVABLE, DRIVE_REMOTE = 2, 4


def test_reveal_commands_per_platform() -> None:
    windows = PureWindowsPath("C:/Users/Ana/My Photos/2019/a, b.jpg")
    assert desktop.reveal_command(windows, "win32") == ("explorer.exe", ["/select,", r"C:\Users\Ana\My Photos\2019\a, b.jpg"])
    mac = PurePosixPath("/Users/ana/Pictures/a b.jpg")
    assert desktop.reveal_command(mac, "darwin") == ("open", ["-R", "/Users/ana/Pictures/a b.jpg"])
    assert desktop.reveal_command(PurePosixPath("/home/ana/a.jpg"), "linux") is None  # a D-Bus call there


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_show_in_folder_starts_the_platforms_file_manager(platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, list[str]]] = []
    opened: list[QUrl] = []
    monkeypatch.setattr(desktop, "_freedesktop_show_items", lambda path: pytest.fail("no D-Bus off Linux"))
    path = Path("/photos/a.jpg")
    ok = desktop.show_in_folder(path, platform, start=lambda p, a: started.append((p, a)) or True,
                                open_url=lambda url: opened.append(url) or True)
    assert ok and started == [desktop.reveal_command(path, platform)] and opened == []


def test_show_in_folder_on_linux_asks_the_file_manager_then_opens_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Path] = []
    opened: list[str] = []
    path = Path("/home/ana/Pictures/2019/a.jpg")

    def record(url: QUrl) -> bool:
        opened.append(url.toLocalFile())
        return True

    def no_start(program: str, args: list[str]) -> bool:
        raise AssertionError("nothing is started on Linux")

    monkeypatch.setattr(desktop, "_freedesktop_show_items", lambda p: asked.append(p) or True)
    assert desktop.show_in_folder(path, "linux", start=no_start, open_url=record)
    assert asked == [path] and opened == []  # the file manager selected it

    monkeypatch.setattr(desktop, "_freedesktop_show_items", lambda p: False)  # none on the bus
    assert desktop.show_in_folder(path, "linux", start=no_start, open_url=record)
    assert opened == ["/home/ana/Pictures/2019"]  # its folder, in whatever xdg-open picks


def test_show_items_gets_encoded_file_uris() -> None:
    assert desktop.show_items_uris(PurePosixPath("/home/ana/My Photos/é #1.jpg")) == [
        "file:///home/ana/My%20Photos/%C3%A9%20%231.jpg"
    ]


def test_windows_trash_only_on_fixed_drives() -> None:
    """Windows's "recycle" deletes for good where there is no Recycle Bin: shares, USB sticks."""
    types = {"C:\\": DRIVE_FIXED, "E:\\": DRIVE_REMOVABLE, "Z:\\": DRIVE_REMOTE}
    assert has_recycle_bin(r"C:\Users\Ana\Pictures\a.jpg", types.__getitem__)
    assert not has_recycle_bin(r"E:\DCIM\100CANON\IMG_0001.JPG", types.__getitem__)
    assert not has_recycle_bin(r"Z:\Photos\a.jpg", types.__getitem__)
    assert not has_recycle_bin(r"\\nas\photos\a.jpg", pytest.fail)  # UNC: no need to ask


def test_windows_trash_leaves_a_photo_on_a_share_alone(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    assert not move_to_trash(str(photo), "win32", drive_type=lambda root: DRIVE_REMOTE)
    assert photo.read_bytes() == b"\xff\xd8\xff"


def test_linux_trash_is_the_freedesktop_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recoverable: the file and its .trashinfo (where it came from) are in the user's trash,
    also for a fresh account without ~/.local/share (Qt alone then refuses)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # on the same drive as the photo: the home trash
    (tmp_path / "home").mkdir()
    photo = tmp_path / "lib" / "a.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"\xff\xd8\xff")
    assert move_to_trash(str(photo), "linux")
    trash = tmp_path / "data" / "Trash"
    assert not photo.exists() and (trash / "files" / "a.jpg").read_bytes() == b"\xff\xd8\xff"
    assert f"Path={photo}" in (trash / "info" / "a.jpg.trashinfo").read_text()
