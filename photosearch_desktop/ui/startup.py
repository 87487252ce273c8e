"""Can Qt open a window here? Asked before the QApplication is made, because Qt's own answer
is an abort (exit 134, a core dump) with a message that names the wrong cause: with no display
at all, Qt 6 says the xcb cursor library is missing even when it is installed.

Nothing here imports Qt's GUI modules: when their system libraries are missing, that import is
what fails. Linux (and the other X11/Wayland systems) only; Windows and macOS always have a
display for a person who starts a window app.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

NO_DISPLAY = (
    "No display found: photosearch-desktop needs a graphical session; the photosearch command works without one"
)

# The libraries Qt's xcb platform plugin and its GUI module load, and who ships them:
# (Debian/Ubuntu package, Fedora package). Keys are sonames without the version suffix.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xinerama.so": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so": ("libxcb-xinput0", "libxcb"),
    "libxcb-xkb.so": ("libxcb-xkb1", "libxcb"),
    "libxcb.so": ("libxcb1", "libxcb"),
    "libX11-xcb.so": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so": ("libx11-6", "libX11"),
    "libxkbcommon-x11.so": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so": ("libxkbcommon0", "libxkbcommon"),
    "libEGL.so": ("libegl1", "libglvnd-egl"),
    "libGL.so": ("libgl1", "libglvnd-glx"),
    "libGLX.so": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so": ("libfontconfig1", "fontconfig"),
    "libfreetype.so": ("libfreetype6", "freetype"),
    "libdbus-1.so": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so": ("libglib2.0-0", "glib2"),
    "libSM.so": ("libsm6", "libSM"),
    "libICE.so": ("libice6", "libICE"),
    "libwayland-client.so": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so": ("libwayland-cursor0", "libwayland-cursor"),
}


@dataclass(frozen=True)
class StartProblem:
    """Why the window cannot start, in the lines to print."""

    lines: tuple[str, ...]


def display_problem(env: Mapping[str, str], platform: str = sys.platform) -> StartProblem | None:
    """No display for the platform plugin Qt will load: X11's DISPLAY for xcb, Wayland's
    WAYLAND_DISPLAY for wayland (either when Qt chooses); none needed for a plugin chosen by
    hand that draws elsewhere (offscreen, vnc, eglfs...)."""
    if platform in ("win32", "darwin"):
        return None
    plugin = _platform_plugin(env)
    needed: tuple[str, ...]
    if plugin == "xcb" and env.get("QT_QPA_PLATFORM"):
        needed = ("DISPLAY",)
    elif plugin.startswith("wayland") and env.get("QT_QPA_PLATFORM"):
        needed = ("WAYLAND_DISPLAY",)
    elif plugin in ("xcb", "wayland"):
        needed = ("DISPLAY", "WAYLAND_DISPLAY")
    else:
        return None
    return None if any(env.get(name) for name in needed) else StartProblem((NO_DISPLAY,))


def x_display_reachable(display: str) -> bool:
    """Whether a local X server answers on ``display`` (":0", "unix:0.0"): its socket accepts
    a connection. A remote one ("host:10", SSH forwarding) is taken as there: Qt will tell."""
    found = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display.strip())
    if not found:
        return True
    path = f"/tmp/.X11-unix/X{found.group(1)}"
    for address in (path, "\0" + path):  # the file, then Linux's abstract socket of the same name
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(address)
                return True
        except OSError:
            continue
    return False


def unreachable_display_problem(
    env: Mapping[str, str], reachable: Callable[[str], bool] = x_display_reachable
) -> StartProblem | None:
    """DISPLAY names an X server that is gone (a closed session, an SSH login without X
    forwarding): Qt would abort. Only for X alone; a Wayland session is Qt's business."""
    display = env.get("DISPLAY", "")
    if not display or _platform_plugin(env) != "xcb" or reachable(display):
        return None
    return StartProblem((
        f"No display found: DISPLAY={display} does not answer; photosearch-desktop needs a graphical "
        "session; the photosearch command works without one",
    ))


def qt_plugin(name: str) -> Path | None:
    """The platform plugin file of the installed PySide6 (found without importing Qt)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms"
    # "wayland" is libqwayland.so from Qt 6.10 on, libqwayland-generic.so before.
    for file_name in (f"libq{name}.so", f"libq{name}-generic.so"):
        if (folder / file_name).is_file():
            return folder / file_name
    return None


def ldd_missing(library: Path) -> list[str]:
    """The shared libraries ``library`` needs (directly or through another) that the dynamic
    linker cannot find, by ldd's "=> not found" lines; [] when all are there or ldd is absent."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(library)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldd(out)


def parse_ldd(output: str) -> list[str]:
    """The "=> not found" libraries of ldd's output, once each, in its order."""
    missing = [m.group(1) for m in re.finditer(r"^\s*(\S+)\s+=>\s+not found", output, re.MULTILINE)]
    return list(dict.fromkeys(missing))


def package_for(soname: str) -> tuple[str, str] | None:
    """(Debian/Ubuntu, Fedora) package of a library such as ``libxcb-cursor.so.0``."""
    base = re.sub(r"(\.so)(\.\d+)*$", r"\1", soname)
    return PACKAGES.get(base)


def missing_libraries_problem(missing: list[str]) -> StartProblem | None:
    if not missing:
        return None
    known = [p for p in (package_for(lib) for lib in missing) if p is not None]
    debian = list(dict.fromkeys(p[0] for p in known))
    fedora = list(dict.fromkeys(p[1] for p in known))
    lines = [
        f"photosearch-desktop cannot open a window: Qt needs system libraries that are not installed: {', '.join(missing)}."
    ]
    if debian:
        lines.append(f"  Debian/Ubuntu: sudo apt install {' '.join(debian)}")
        lines.append(f"  Fedora:        sudo dnf install {' '.join(fedora)}")
    unknown = [lib for lib in missing if package_for(lib) is None]
    if unknown:
        lines.append(f"  For {', '.join(unknown)}: apt-file search <name> or dnf provides '*/<name>' names the package.")
    lines.append("The photosearch command works without them.")
    return StartProblem(tuple(lines))


def _platform_plugin(env: Mapping[str, str]) -> str:
    """The platform plugin Qt will load: the one asked for, else wayland in a Wayland session
    that has no X server, else xcb (Qt 6's default on Linux)."""
    asked = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if asked:
        return asked
    if env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
        return "wayland"
    return "xcb"


def qt_start_problem(
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    find_missing: Callable[[Path], list[str]] = ldd_missing,
    reachable: Callable[[str], bool] = x_display_reachable,
) -> StartProblem | None:
    """Why Qt cannot open a window here, or None when it can (as far as can be told without
    trying: trying is what aborts). ``find_missing`` lists the libraries a plugin lacks and
    ``reachable`` says whether an X display answers (tests give their own)."""
    env = os.environ if env is None else env
    if platform in ("win32", "darwin"):
        return None
    problem = display_problem(env, platform) or unreachable_display_problem(env, reachable)
    if problem is not None:
        return problem
    plugin = qt_plugin(_platform_plugin(env))
    if plugin is None:
        return None  # a Qt without that plugin file, or one named by hand: Qt says what it misses
    return missing_libraries_problem(find_missing(plugin))


def import_problem(exc: ImportError) -> StartProblem:
    """Qt's GUI modules could not be imported: a system library is missing (the linker's
    message names it), or the binding is broken."""
    found = re.search(r"(lib[\w.+-]+\.so[\d.]*): cannot open shared object file", str(exc))
    if found:
        problem = missing_libraries_problem([found.group(1)])
        assert problem is not None
        return problem
    return StartProblem((f"photosearch-desktop cannot load Qt ({exc}); reinstalling PySide6 may help.",))
