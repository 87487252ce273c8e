"""Hands a photo to the rest of the desktop: open it, reveal it in the file manager, copy its path.

What is run for each platform is decided by :func:`reveal_command` from the platform's name
(``sys.platform`` unless given), so the Windows and macOS commands are tested on Linux too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path, PurePath

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

log = logging.getLogger(__name__)


def open_file(path: Path) -> bool:
    """The system's default app for the file (ShellExecute on Windows, Launch Services on
    macOS, xdg-open or the desktop portal on Linux: Qt picks)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def reveal_command(path: PurePath, platform: str = sys.platform) -> tuple[str, list[str]] | None:
    """The program (and its arguments) that shows ``path`` selected in the platform's file
    manager; None where that is a D-Bus call (Linux and the other freedesktop systems)."""
    if platform == "win32":
        # Explorer parses "/select," and the path as one switch; Qt quotes a path with spaces.
        return "explorer.exe", ["/select,", str(path)]
    if platform == "darwin":
        return "open", ["-R", str(path)]
    return None


def show_in_folder(
    path: Path,
    platform: str = sys.platform,
    start: Callable[[str, list[str]], bool] | None = None,
    open_url: Callable[[QUrl], bool] | None = None,
) -> bool:
    """Reveal the file selected in the file manager where the platform supports it, otherwise
    open its folder. ``start`` (a detached program) and ``open_url`` stand in for Qt's in tests."""
    command = reveal_command(path, platform)
    if command is not None:
        program, args = command
        return (start or _start_detached)(program, args)
    if _freedesktop_show_items(path):
        return True
    return (open_url or QDesktopServices.openUrl)(QUrl.fromLocalFile(str(path.parent)))


def copy_path(path: Path) -> None:
    QGuiApplication.clipboard().setText(str(path))


def _start_detached(program: str, args: list[str]) -> bool:
    return bool(QProcess.startDetached(program, args)[0])


def show_items_uris(path: PurePath) -> list[str]:
    """The argument of FileManager1.ShowItems: file URIs, percent-encoded."""
    return [QUrl.fromLocalFile(str(path)).toString(QUrl.ComponentFormattingOption.FullyEncoded)]


def _freedesktop_show_items(path: Path) -> bool:
    """org.freedesktop.FileManager1.ShowItems: Nautilus, Dolphin, Nemo, Thunar... select the file."""
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    iface = QDBusInterface("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                           "org.freedesktop.FileManager1", bus)
    if not iface.isValid():
        return False
    reply = iface.call("ShowItems", show_items_uris(path), "")
    if reply.errorName():
        log.info("file manager refused ShowItems: %s", reply.errorMessage())
        return False
    return True
