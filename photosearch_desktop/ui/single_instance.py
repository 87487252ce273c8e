"""One window per person (and data folder): starting the app again brings the running window to
the front, and a folder given to the second start (a file manager's "Open with") opens there,
instead of a second window that finds its library busy.

The first instance listens on a local socket (a Unix domain socket, a named pipe on Windows)
whose name is derived from the user and the data folder; only that user may connect. A later
start connects, sends its request as one JSON line, waits for the answer and exits.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

CONNECT_MS = 500  # a running instance accepts at once; a stale socket file refuses at once
ANSWER_MS = 5000  # the running window answers from its event loop


def server_name(data_dir: Path) -> str:
    """Per user and data folder (two data folders are two separate apps)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "user"
    key = f"{user}\0{data_dir.resolve()}".encode("utf-8", "surrogateescape")
    return f"photosearch-desktop-{hashlib.sha1(key).hexdigest()[:16]}"


def hand_over(name: str, library: Path | None) -> bool:
    """Ask a running instance to come to the front (and open ``library``): True when it did."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False
    request = {"library": str(library.expanduser().resolve()) if library else None}
    socket.write((json.dumps(request) + "\n").encode("utf-8", "surrogateescape"))
    socket.flush()
    ok = socket.waitForReadyRead(ANSWER_MS) and bytes(socket.readLine().data()).strip() == b"ok"
    socket.disconnectFromServer()
    return ok


class InstanceServer(QObject):
    """Listens for later starts and hands each request (the library folder, or None) to
    ``on_request`` on the GUI thread."""

    def __init__(self, name: str, on_request: Callable[[Path | None], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_request = on_request
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        if not self._server.listen(name):
            # A socket file left by an instance that crashed (nobody answered hand_over): remove it.
            QLocalServer.removeServer(name)
            if not self._server.listen(name):
                log.info("no single-instance server (%s): a later start opens a window of its own",
                         self._server.errorString())

    @property
    def listening(self) -> bool:
        return self._server.isListening()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.canReadLine():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        line = bytes(socket.readLine().data())
        try:
            library = json.loads(line.decode("utf-8", "surrogateescape")).get("library")
        except (ValueError, AttributeError):
            log.info("ignored a malformed request from another start")
            socket.disconnectFromServer()
            return
        socket.write(b"ok\n")
        socket.flush()
        self._on_request(Path(library) if library else None)
