"""Before the window: can Qt start here (ui/startup.py, ui/app.py)? One clear line and exit 1
where Qt itself would abort with a core dump."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from childproc import child_env

from photosearch_desktop.ui.startup import (
    NO_DISPLAY,
    import_problem,
    package_for,
    parse_ldd,
    qt_plugin,
    qt_start_problem,
)


def _no_libs_missing(plugin: Path) -> list[str]:
    return []


def _always_reachable(display: str) -> bool:
    return True


def test_without_a_display_the_window_says_so_and_exits_1(tmp_path: Path) -> None:
    env = child_env(tmp_path / "data")
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-m", "photosearch_desktop.ui.app"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr, done.stdout) == (1, NO_DISPLAY + "\n", "")


def test_a_display_that_does_not_answer_is_no_display(tmp_path: Path) -> None:
    """DISPLAY left over from a closed session (or an SSH login): Qt would abort."""
    env = child_env(tmp_path / "data", DISPLAY=":4711")
    for key in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-m", "photosearch_desktop.ui.app"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("No display found: DISPLAY=:4711 does not answer")
    assert len(done.stderr.splitlines()) == 1


def test_missing_xcb_libraries_are_named_with_their_packages() -> None:
    asked: list[Path] = []

    def missing(plugin: Path) -> list[str]:
        asked.append(plugin)
        return ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libfoo-unknown.so.3"]

    problem = qt_start_problem({"DISPLAY": ":0"}, "linux", find_missing=missing, reachable=_always_reachable)
    assert problem is not None and [p.name for p in asked] == ["libqxcb.so"]
    text = "\n".join(problem.lines)
    assert "not installed: libxcb-cursor.so.0, libxcb-icccm.so.4, libfoo-unknown.so.3." in text
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in text
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in text
    assert "For libfoo-unknown.so.3: apt-file search" in text


def test_a_complete_install_starts() -> None:
    assert qt_start_problem({"DISPLAY": ":0"}, "linux", find_missing=_no_libs_missing, reachable=_always_reachable) is None


def test_the_plugin_checked_is_the_one_qt_will_load() -> None:
    asked: list[str] = []

    def record(plugin: Path) -> list[str]:
        asked.append(plugin.name)
        return []

    qt_start_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", find_missing=record, reachable=pytest.fail)
    qt_start_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", find_missing=record, reachable=pytest.fail)
    assert asked == [qt_plugin("wayland").name, "libqoffscreen.so"]  # type: ignore[union-attr]
    assert asked[0] in ("libqwayland.so", "libqwayland-generic.so")  # Qt 6.10 renamed it


def test_a_platform_chosen_by_hand_needs_its_own_display() -> None:
    def check(env: dict[str, str]) -> tuple[str, ...] | None:
        problem = qt_start_problem(env, "linux", find_missing=_no_libs_missing, reachable=_always_reachable)
        return problem.lines if problem else None

    assert check({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}) == (NO_DISPLAY,)
    assert check({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}) == (NO_DISPLAY,)
    assert check({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}) is None
    assert check({"QT_QPA_PLATFORM": "offscreen"}) is None and check({"QT_QPA_PLATFORM": "vnc:size=800x600"}) is None


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_windows_and_macos_are_not_checked(platform: str) -> None:
    assert qt_start_problem({}, platform, find_missing=pytest.fail, reachable=pytest.fail) is None


def test_ldd_output_is_read_for_missing_libraries() -> None:
    output = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)\n"
        "\tlibxcb-icccm.so.4 => not found\n"
        "\tlibxcb-keysyms.so.1 => not found\n"
        "\tlibxcb-icccm.so.4 => not found\n"
    )
    assert parse_ldd(output) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert package_for("libxkbcommon-x11.so.0") == ("libxkbcommon-x11-0", "libxkbcommon-x11")
    assert package_for("libxkbcommon.so.0.0.0") == ("libxkbcommon0", "libxkbcommon")


def test_a_missing_library_of_qts_gui_module_is_named() -> None:
    problem = import_problem(ImportError("libEGL.so.1: cannot open shared object file: No such file or directory"))
    assert "libEGL.so.1" in problem.lines[0] and "sudo apt install libegl1" in problem.lines[1]
