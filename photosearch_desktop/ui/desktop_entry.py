"""``--install-desktop-entry`` / ``--uninstall-desktop-entry``: the launcher entry on Linux and the
other freedesktop systems (GNOME, KDE, Xfce...), for the current user only.

Two files go into the user's data folder (``$XDG_DATA_HOME``, by default ``~/.local/share``):
``applications/photosearch-desktop.desktop`` (with ``MimeType=inode/directory``, so a folder's
"Open with" offers the app, and ``%f`` passes that folder) and the icon under
``icons/hicolor/scalable/apps``. Nothing else is touched; uninstalling removes exactly those.
No Qt is needed (this runs before any window).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

APP_ID = "photosearch-desktop"
DESKTOP_FILE = f"applications/{APP_ID}.desktop"
ICON_FILE = f"icons/hicolor/scalable/apps/{APP_ID}.svg"


def data_home(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME when it is an absolute path (the spec ignores a relative one), else ~/.local/share."""
    env = os.environ if env is None else env
    value = env.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def launch_command() -> list[str]:
    """How the launcher starts the app: the installed ``photosearch-desktop`` beside this
    Python (a virtual environment's bin/ need not be on the launcher's PATH), else this
    Python running the module."""
    script = Path(sys.executable).with_name(APP_ID)
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which(APP_ID)
    if found:
        return [found]
    return [sys.executable, "-m", "photosearch_desktop.ui.app"]


def _exec_quote(arg: str) -> str:
    """An argument of the Exec key (Desktop Entry spec, "The Exec key"): quoted when it holds
    a reserved character, with ", `, $ and \\ escaped inside; % doubled everywhere."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry(command: list[str]) -> str:
    exec_line = " ".join(_exec_quote(a) for a in command) + " %f"
    # A backslash in a string value is itself an escape in .desktop files: doubled once more.
    exec_line = exec_line.replace("\\", "\\\\")
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.0\n"
        "Name=PhotoSearch\n"
        "GenericName=Photo Search\n"
        "Comment=Search your own photos by what they look like\n"
        f"Exec={exec_line}\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "Categories=Graphics;Photography;Viewer;\n"
        "MimeType=inode/directory;\n"
        "Keywords=photo;image;search;duplicates;\n"
        "StartupNotify=true\n"
        # Qt's X11 window class is the application name (ui/window_app.py sets it); on Wayland
        # the window names this file itself (setDesktopFileName).
        "StartupWMClass=PhotoSearch\n"
    )


def icon_svg() -> bytes:
    return resources.files("photosearch_desktop.ui").joinpath("resources", f"{APP_ID}.svg").read_bytes()


def install(env: Mapping[str, str] | None = None, command: list[str] | None = None) -> list[Path]:
    """Writes the entry and the icon; returns their paths."""
    base = data_home(env)
    entry, icon = base / DESKTOP_FILE, base / ICON_FILE
    for path, data in ((icon, icon_svg()), (entry, desktop_entry(command or launch_command()).encode("utf-8"))):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a launcher reading it meanwhile sees the old file or the new one
    _refresh(base)
    return [entry, icon]


def uninstall(env: Mapping[str, str] | None = None) -> list[Path]:
    """Removes the entry and the icon; returns the paths that were there."""
    base = data_home(env)
    removed = []
    for path in (base / DESKTOP_FILE, base / ICON_FILE):
        if path.exists():
            path.unlink()
            removed.append(path)
    _refresh(base)
    return removed


def _refresh(base: Path) -> None:
    """Tell the desktop's caches (the "Open with" list, the icon theme) where the tools exist;
    without them the desktop notices on its next scan."""
    for tool, target in (("update-desktop-database", base / "applications"),
                         ("gtk-update-icon-cache", base / "icons" / "hicolor")):
        exe = shutil.which(tool)
        if exe and target.is_dir():
            args = [exe, "-q", str(target)] if tool == "update-desktop-database" else [exe, "-q", "-t", str(target)]
            try:
                subprocess.run(args, capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                pass  # a cache refresh is a courtesy
