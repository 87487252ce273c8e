"""Fixtures shared by the unit, integration and GUI tests, and the check that fails a test
whose code logs a warning it did not declare (``logfail``)."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Qt must never look for a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Nothing downloads in a test, on a machine online or not: a test that expects "the weights could
# not be downloaded" must never start a 605 MB download instead. Set before anything imports
# huggingface_hub (which reads it once), and inherited by every child process. The test that
# checks what the app does online sets it back itself.
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest

# The tests' helper modules (imagegen, libgen, tinyclip, whitebox...) import by their names.
sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

from tinyclip import make_tiny_clip  # noqa: E402


class NetworkBlocked(OSError):
    """A test tried to reach the network (tests/conftest.py blocks it)."""


_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "", None)
_real_connect, _real_connect_ex = socket.socket.connect, socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _local(sock: socket.socket, address: object) -> bool:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    return host in _LOCAL_NAMES


def _guarded_connect(sock: socket.socket, address: Any) -> None:
    if not _local(sock, address):
        raise NetworkBlocked(f"tests may not connect to {address!r} (tests/conftest.py)")
    _real_connect(sock, address)


def _guarded_connect_ex(sock: socket.socket, address: Any) -> int:
    if not _local(sock, address):
        raise NetworkBlocked(f"tests may not connect to {address!r} (tests/conftest.py)")
    return _real_connect_ex(sock, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host not in _LOCAL_NAMES:
        raise NetworkBlocked(f"tests may not look up {host!r} (tests/conftest.py)")
    return _real_getaddrinfo(host, *args, **kwargs)


# This process's sockets: only local ones (AF_UNIX, loopback). Child processes are kept off the
# network by HF_HUB_OFFLINE and, where a test checks it, by an audit hook of their own.
socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo

# pytester runs pytest on a test file of its own: tests/helpers/test_logfail.py checks logfail so.
pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """(model name, checkpoint file, config file) of a tiny random-weight CLIP."""
    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of ONNX graphs for the tests that use ``data_dir``: a model's graphs are
    exported once per test run (efficientnet-lite2 takes 15 s), as once per computer for a
    person. Only the graphs: downloaded weights and their records stay each test's own."""
    return tmp_path_factory.mktemp("models-cache")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: Path) -> Path:
    """Every app file of the test goes here, never into the real per-user folders (the ONNX
    graphs are the run's shared ones)."""
    path = tmp_path / "appdata"
    for folder in (path, path / "cache", path / "cache" / "models"):
        folder.mkdir(mode=0o700)  # as the app makes them: the privacy tests check every folder
    (path / "cache" / "models" / "onnx").symlink_to(shared_models, target_is_directory=True)
    monkeypatch.setenv("PHOTOSEARCH_DATA_DIR", str(path))
    return path


# -- logfail ------------------------------------------------------------------------------------

# Our own loggers: the package's modules, and the names the command line and the window use.
OWN_LOGGERS = ("photosearch_desktop", "photosearch")
LOGFAIL_LEVEL = logging.WARNING


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "expect_log(*patterns): the test may log warnings whose message matches one of these regular "
        "expressions (re.search); any other warning fails it (see logfail in tests/conftest.py)",
    )


class LogFailHandler(logging.Handler):
    """Collects the records that count (see :func:`logfail`), from every thread."""

    def __init__(self, expected: list[re.Pattern[str]]) -> None:
        super().__init__(LOGFAIL_LEVEL)
        self.expected = expected
        self.unexpected: list[str] = []
        self.test_failed = False  # or was skipped: that is all its report says

    @staticmethod
    def counts(record: logging.LogRecord) -> bool:
        name = record.name
        return name == "root" or any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.counts(record):
            return
        message = record.getMessage()
        if not any(p.search(message) for p in self.expected):
            self.unexpected.append(f"{record.levelname} {record.name} ({record.threadName}): {message}")

    def take(self) -> list[str]:
        """The unexpected records so far, as lines; forgets them."""
        taken, self.unexpected = self.unexpected, []
        return taken


LOGFAIL_KEY = pytest.StashKey[LogFailHandler]()


def _fail_for(records: list[str], when: str) -> None:
    lines = "\n".join(f"  {r}" for r in records)
    pytest.fail(
        f"logged {len(records)} unexpected warning(s) {when}:\n{lines}\n"
        "If the test means to cause them, declare each with @pytest.mark.expect_log(r\"message pattern\").",
        pytrace=False,
    )


@pytest.fixture(autouse=True)
def logfail(request: pytest.FixtureRequest) -> Iterator[LogFailHandler]:
    """Fails the test when a log record at WARNING or above was emitted while it ran (its
    setup, body and teardown), from any thread, unless the test declared it expected::

        @pytest.mark.expect_log(r"vector cache .* is damaged", r"disk holding .* is full")
        def test_...

    Each argument is a regular expression searched for in the record's message (its text after
    %-formatting). Declared patterns are allowed, not required: a warning that depends on
    timing does not make the test flaky. The marker may be given to a class or a module too.

    The records that count are those of our own loggers, ``photosearch_desktop.*`` (the
    package's modules) and ``photosearch`` / ``photosearch.*`` (the command line, the window),
    and those of the root logger, where ``logging.warning(...)`` called directly ends up, ours
    or a library's. open_clip is such a library: "No pretrained weights loaded for model ..."
    comes each time a CLIP is created without weights, which the app never does, and the tests
    that make random weights on purpose declare it. Libraries' own named loggers (faiss, PIL,
    timm, huggingface_hub, urllib3...) are left alone: their warnings are about their own
    workings, not ours to fix or to declare. Records forwarded from the model process keep
    their logger's name and count the same way.

    Fixtures of a wider scope than the test (session, module) are set up before this one and
    torn down after it: what they log is not checked.

    Qt's messages are pytest-qt's business (``qtlog``), and Python warnings (``warnings.warn``)
    are pytest's ``filterwarnings``; neither goes through here.

    A record emitted while the test is set up or runs fails the test itself; one emitted while
    its fixtures are torn down is reported as an error of that teardown. A test that fails for
    a reason of its own reports that reason alone (the warnings are in its captured log).
    """
    patterns = [re.compile(p) for mark in request.node.iter_markers("expect_log") for p in mark.args]
    handler = LogFailHandler(patterns)
    root = logging.getLogger()
    root.addHandler(handler)
    request.node.stash[LOGFAIL_KEY] = handler
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    if (unexpected := handler.take()) and not handler.test_failed:
        _fail_for(unexpected, "while the test's fixtures were set up or torn down")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fails the test (not its teardown) for the unexpected warnings of its setup and body. A
    test that failed (or was skipped) for a reason of its own reports that reason alone, even
    when its teardown then logs (a window closed while its work still runs): its records are
    in its captured log."""
    handler = item.stash.get(LOGFAIL_KEY, None)
    try:
        result = yield
    except BaseException:
        if handler is not None:
            handler.take()
            handler.test_failed = True
        raise
    if handler is not None and (unexpected := handler.take()):
        _fail_for(unexpected, "while the test was set up or ran")
    return result
