"""Starting the app a second time brings the running window to the front (ui/single_instance.py,
ui/window_app.py) instead of a second window whose library is busy."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from childproc import child_env
from PySide6.QtCore import QDir
from PySide6.QtWidgets import QApplication

from photosearch_desktop.engine.system.paths import app_dirs
from photosearch_desktop.ui.main_window import MainWindow
from photosearch_desktop.ui.settings import AppSettings
from photosearch_desktop.ui.single_instance import InstanceServer, server_name
from photosearch_desktop.ui.window_app import bring_to_front


def test_a_second_start_hands_its_folder_to_the_running_window_and_exits_0(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "appdata"
    asked: list[Path | None] = []
    server = InstanceServer(server_name(app_dirs(data_dir).data), asked.append)
    assert server.listening
    folder = tmp_path / "My Photos"
    folder.mkdir()
    try:
        second = subprocess.Popen(
            [sys.executable, "-m", "photosearch_desktop.ui.app", "--data-dir", str(data_dir), str(folder)],
            env=child_env(QT_QPA_PLATFORM="offscreen"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # This (first) instance's event loop must run to answer it.
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=60_000)
        out, err = second.communicate()
    finally:
        server.close()
    assert second.returncode == 0, err
    assert "running already" in err and out == ""
    assert asked == [folder.resolve()]
    assert not app_dirs(data_dir).logs.exists()  # it opened nothing of its own


def test_another_data_folder_is_another_app(tmp_path: Path) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "a" / ".." / "a")


def test_a_socket_left_by_a_crashed_instance_is_replaced(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = server_name(tmp_path / "crashed")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(Path(QDir.tempPath()) / name))  # a socket file nobody listens on any more
    stale.close()
    server = InstanceServer(name, lambda library: None)
    try:
        assert server.listening
    finally:
        server.close()


def test_bring_to_front_restores_the_window_and_opens_another_folder(qtbot, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "appdata"
    window = MainWindow(AppSettings(app_dirs(data_dir).config), data_dir=data_dir)
    qtbot.addWidget(window)
    window.show()
    opened: list[Path] = []
    monkeypatch.setattr(window.library, "open", opened.append)
    window.showMinimized()
    QApplication.processEvents()
    bring_to_front(window, None)
    assert not window.isMinimized() and window.isVisible() and opened == []
    bring_to_front(window, tmp_path)
    assert opened == [tmp_path]
