"""``--install-desktop-entry`` / ``--uninstall-desktop-entry`` (ui/desktop_entry.py), into an
XDG_DATA_HOME of the test's own."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from childproc import child_env

from photosearch_desktop.ui.desktop_entry import desktop_entry


def _run(*args: str, data_home: Path) -> subprocess.CompletedProcess[str]:
    env = child_env(data_home.parent / "appdata", XDG_DATA_HOME=str(data_home))
    return subprocess.run([sys.executable, "-m", "photosearch_desktop.ui.app", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_then_uninstall_desktop_entry(tmp_path: Path) -> None:
    data_home = tmp_path / "share"
    done = _run("--install-desktop-entry", data_home=data_home)
    assert done.returncode == 0, done.stderr
    entry = data_home / "applications" / "photosearch-desktop.desktop"
    icon = data_home / "icons" / "hicolor" / "scalable" / "apps" / "photosearch-desktop.svg"
    assert icon.read_bytes().startswith(b"<?xml") and b"<svg" in icon.read_bytes()
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read(entry)
    keys = parsed["Desktop Entry"]
    assert keys["Type"] == "Application" and keys["Icon"] == "photosearch-desktop"
    assert keys["MimeType"] == "inode/directory;"  # "Open with" for folders
    assert keys["Exec"].endswith(" %f")
    assert str(entry) in done.stderr and str(icon) in done.stderr

    done = _run("--uninstall-desktop-entry", data_home=data_home)
    assert done.returncode == 0, done.stderr
    assert not entry.exists() and not icon.exists()
    assert (data_home / "applications").is_dir()  # the folders are the user's, and stay


def test_exec_quotes_paths_as_the_desktop_entry_spec_says() -> None:
    text = desktop_entry(["/home/ana/My Apps/venv/bin/photosearch-desktop"])
    assert 'Exec="/home/ana/My Apps/venv/bin/photosearch-desktop" %f\n' in text
    text = desktop_entry(["/opt/100%/bin/python", "-m", "photosearch_desktop.ui.app"])
    assert "Exec=/opt/100%%/bin/python -m photosearch_desktop.ui.app %f\n" in text
    text = desktop_entry(['/odd/a"b$c/x'])
    assert 'Exec="/odd/a\\\\"b\\\\$c/x" %f\n' in text
