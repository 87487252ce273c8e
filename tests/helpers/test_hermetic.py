"""The test session itself stays off the network (tests/conftest.py)."""

from __future__ import annotations

import os
import socket

import pytest


def test_the_model_hub_is_offline_for_every_test_and_child() -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_network_connections_and_lookups_are_refused() -> None:
    with pytest.raises(OSError, match="tests may not look up 'huggingface.co'"):
        socket.create_connection(("huggingface.co", 443), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(OSError, match="may not connect"):
        sock.connect(("93.184.215.14", 80))


def test_local_sockets_still_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            conn, _ = server.accept()
            client.sendall(b"hi")
            assert conn.recv(2) == b"hi"
            conn.close()
