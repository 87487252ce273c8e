"""A model that runs in a process of its own, behind the same :class:`~.base.Embedder` interface.

The window uses it. Importing torch and building a model run C code that holds the GIL for
tens of milliseconds at a time, which froze the window while the model loaded; in another
process torch never touches the window's interpreter. A model that dies (a native crash, or
killed for lack of memory) takes only its process with it: the library starts a new one on the
next call.

Photos are still decoded and preprocessed in the calling process (preprocessing is PIL and
NumPy, see .preprocess); only float32 batches cross over, through a pipe. Several threads may
call at once (the indexing pipeline runs one inference stream per core, and queries run beside
it): each request carries a number, the model process runs each request in a thread of its own,
and a reader thread here hands every answer to the caller that waits for it.

The model process is a fresh interpreter (``python -c``) that talks over its stdin and stdout,
not a ``multiprocessing`` child: that one would import the caller's main script again (the
window's, with Qt) and fail where the script has no ``__main__`` guard.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import Action, ModelError, ModelStopped, PhotoSearchError, hint
from ..records import Preparation
from ..system.log_files import WithoutImageData
from .base import Embedder
from .spawn import start_model_process, take_spare

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0  # for the model process to finish its requests and exit before it is killed
_HEADER = struct.Struct("<Q")  # the length of the pickled message that follows


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other side has gone."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


@dataclass(frozen=True)
class _Description:
    """What the calling process needs to know of the loaded model."""

    name: str
    identity: str
    dim: int
    supports_text: bool
    input_size: int
    device: str
    cpu_batch_size: int
    preprocessor: Any
    runtime: str


def _error(exc: BaseException) -> Exception:
    """What the caller raises for ``exc``: the engine's own errors (and a caller's ValueError)
    as they are, anything else as a ModelError that names it."""
    if isinstance(exc, (PhotoSearchError, ValueError)):
        return exc
    return ModelError(f"The model failed ({type(exc).__name__}: {exc}).")


class _LogToCaller(logging.Handler):
    """Sends the model process's log records to the caller, which logs them as its own (into
    the window's log file, say)."""

    def __init__(self, answers: IO[bytes], lock: threading.Lock) -> None:
        super().__init__()
        self._answers, self._lock = answers, lock

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self._lock:
                _send(self._answers, ("log", record.levelno, record.name, record.getMessage()))
        except OSError:
            pass  # the caller is gone


def serve() -> None:
    """The model process's main: load the model, then answer requests until stdin closes."""
    # Ctrl+C in a terminal reaches the whole process group; the caller decides when this ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    # The answers go to the original stdout; anything a library prints goes to stderr instead,
    # or nowhere when there is none (started without one, as a Windows GUI app is: pythonw).
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    _send_prints_to_stderr()
    send_lock = threading.Lock()
    _import_loaders()
    try:
        name, device, weights, cache_dir, runtime, force_download, for_queries, log_level = _receive(requests)
    except EOFError:
        _leave(answers, 0)  # a spare process that no model came for (spawn.py)
    logging.getLogger().setLevel(log_level)
    to_caller = _LogToCaller(answers, send_lock)
    to_caller.addFilter(WithoutImageData())
    logging.getLogger().addHandler(to_caller)
    started = time.perf_counter()

    def preparing(news: Preparation) -> None:
        with send_lock:
            _send(answers, ("preparing", news))

    try:  # a broken torch or ONNX Runtime install, too, is reported to the caller in words
        from ..system.memory import release_free_memory
        from .factory import create_embedder

        embedder = create_embedder(
            name, device=device, weights=weights, cache_dir=cache_dir, runtime=runtime, preparing=preparing,
            force_download=force_download, for_queries=for_queries,
        )
    except Exception as exc:  # noqa: BLE001 - sent to the caller, which raises it there
        with send_lock:
            _send(answers, ("failed", _error(exc)))
        _leave(answers, 1)
    release_free_memory()  # the loader's freed temporaries
    log.info(
        "loaded %s on %s (%s) in %.1f s", embedder.identity, embedder.device, embedder.runtime,
        time.perf_counter() - started,
    )
    about = _Description(
        embedder.name, embedder.identity, embedder.dim, embedder.supports_text, embedder.input_size,
        embedder.device, embedder.cpu_batch_size, embedder.preprocessor, embedder.runtime,
    )
    with send_lock:
        _send(answers, ("ready", about))

    operations: dict[str, Callable[..., Any]] = {
        "encode_arrays": embedder.encode_arrays, "encode_text": embedder.encode_text,
        "set_threads": embedder.set_threads, "warm_up": embedder.warm_up,
    }

    def answer(request_id: int, operation: str, args: tuple) -> None:
        try:
            reply = (request_id, True, operations[operation](*args))
        except Exception as exc:  # noqa: BLE001 - raised again in the caller
            reply = (request_id, False, _error(exc))
        with send_lock:
            try:
                _send(answers, reply)
            except OSError:
                pass  # the caller is gone; the request loop ends too

    # The main thread runs a request whenever it is free, other threads only the overflow: a
    # forward pass on several cores takes 60 ms on the main thread and 77 ms on any other
    # (ViT-B/32, 2 cores: libgomp's worker threads of a team led by another thread sleep
    # between parallel regions instead of spinning). Callers block until answered, so the
    # caller's threads bound how many run at once.
    for_main: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
    main_free = threading.Event()
    main_free.set()

    def dispatch(pool: ThreadPoolExecutor) -> None:
        while True:
            try:
                request = _receive(requests)
            except (EOFError, OSError):
                break  # closed: the caller is done, or has ended
            if main_free.is_set():
                main_free.clear()  # only this thread clears it, so no other request slips in
                for_main.put(request)
            else:
                pool.submit(answer, *request)
        for_main.put(None)

    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 4, thread_name_prefix="model") as pool:
        threading.Thread(target=dispatch, args=(pool,), name="requests", daemon=True).start()
        while (request := for_main.get()) is not None:
            answer(*request)
            main_free.set()
    _leave(answers, 0)


def _import_loaders() -> None:
    """Import what loading a model will, before knowing which (a spare process waits with them
    imported, spawn.py): the loaders, and ONNX Runtime where it will run the model. A failure
    here is left for the load to report."""
    try:
        from . import factory  # noqa: F401
        from .runtime import onnxruntime_installed

        if onnxruntime_installed():  # queries run on it even where a GPU indexes
            import onnxruntime  # noqa: F401

            from . import onnx_embedder  # noqa: F401
    except Exception:  # noqa: BLE001
        log.debug("importing the model loaders early failed", exc_info=True)


def _send_prints_to_stderr() -> None:
    """fd 1 carries the answers' copy from now on: what anything prints goes to stderr, or to
    the null device where this process has no stderr (``sys.stderr`` is None then)."""
    if sys.stderr is not None:
        try:
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
            return
        except (OSError, ValueError):
            pass  # a stderr object without a usable file descriptor
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    sys.stderr = open(os.devnull, "w")  # progress bars write to it; open for the life of the process


def _leave(answers: IO[bytes], code: int) -> None:
    """Every answer is sent: exit without the interpreter's teardown, which takes over a second
    with torch loaded and would hold up closing the window (or reporting a failed load)."""
    answers.close()
    logging.shutdown()
    os._exit(code)


def _closed() -> ModelError:
    return ModelError("The model was closed.")


class ModelProcess(Embedder):
    """Starts the model ``name`` in a new process and waits until it is loaded."""

    def __init__(
        self, name: str, device: str | None = None, weights: Path | None = None, cache_dir: Path | None = None,
        runtime: str | None = None, preparing: Callable[[Preparation], None] | None = None,
        force_download: bool = False, for_queries: bool = False,
    ) -> None:
        self._preparing = preparing
        self._process = take_spare() or start_model_process()  # a spare has its imports done (spawn.py)
        self._requests: IO[bytes] = self._process.stdin  # type: ignore[assignment]
        self._answers: IO[bytes] = self._process.stdout  # type: ignore[assignment]
        try:
            level = logging.getLogger().getEffectiveLevel()
            _send(self._requests, (name, device, weights, cache_dir, runtime, force_download, for_queries, level))
            kind, payload = self._next_answer()
        except (EOFError, OSError):
            self._stop()
            raise ModelError(f"The model process stopped while loading {name} ({self._exit_words()}).") from None
        if kind == "failed":
            self._stop()
            raise payload
        about: _Description = payload
        self.name, self.identity, self.dim = about.name, about.identity, about.dim
        self.supports_text, self.input_size, self.device = about.supports_text, about.input_size, about.device
        self.cpu_batch_size, self.preprocessor = about.cpu_batch_size, about.preprocessor
        self.runtime = about.runtime

        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()  # guards the three below
        self._pending: dict[int, Future[Any]] = {}
        # Why every call fails from now on (a fresh error each time).
        self._failure: Callable[[], ModelError] | None = None
        self._closing = False
        self._ids = itertools.count()
        self._reader = threading.Thread(target=self._read_answers, name="model-answers", daemon=True)
        self._reader.start()
        log.info("model %s running in process %d", self.identity, self._process.pid)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._failure is None and not self._closing and self._process.poll() is None

    def _exit_words(self) -> str:
        code = self._process.returncode
        if code is None:
            return "it did not answer"
        if code < 0:
            return f"ended by signal {-code}, for example killed for lack of memory"
        return f"exit code {code}"

    def _stop(self) -> None:
        """Close its stdin (its signal to finish), wait a while, then kill it."""
        try:
            self._requests.close()
        except OSError:
            pass  # it has gone already
        try:
            self._process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            log.warning("the model process did not stop within %g s; killing it", STOP_GRACE_S)
            self._process.kill()
            self._process.wait()
        self._answers.close()

    def _next_answer(self) -> tuple:
        """The next message that is not a log record or news of the model's preparation; those
        are logged or passed on here as they come."""
        while True:
            message = _receive(self._answers)
            if message[0] == "log":
                _, level, name, text = message
                logging.getLogger(name).log(level, "(model process) %s", text)
            elif message[0] == "preparing":
                if self._preparing is not None:
                    self._preparing(message[1])
            else:
                return message

    def _read_answers(self) -> None:
        while True:
            try:
                request_id, ok, payload = self._next_answer()
            except (EOFError, OSError, ValueError):
                break
            with self._state_lock:
                future = self._pending.pop(request_id, None)
            if future is None:
                continue
            if ok:
                future.set_result(payload)
            else:
                future.set_exception(payload)
        try:
            self._process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass  # its stdout closed, yet it runs on: _exit_words says so
        with self._state_lock:
            if self._closing:
                self._failure = _closed
            else:
                words = f"The model process stopped unexpectedly ({self._exit_words()})."
                self._failure = lambda: ModelStopped(words, hint(Action.RESTART))
                log.warning("%s", words)
            pending, self._pending = self._pending, {}
            failure = self._failure
        for future in pending.values():
            future.set_exception(failure())

    def _call(self, operation: str, *args: object) -> Any:
        return self._submit(operation, *args).result()

    def _submit(self, operation: str, *args: object) -> Future[Any]:
        future: Future[Any] = Future()
        with self._state_lock:
            if self._failure is not None:
                raise self._failure()
            if self._closing:
                raise _closed()
            request_id = next(self._ids)
            self._pending[request_id] = future
        try:
            with self._send_lock:
                _send(self._requests, (request_id, operation, args))
        except (OSError, ValueError):
            pass  # the process has gone: the reader fails the request with the reason
        return future

    def set_threads(self, n: int) -> int:
        return self._call("set_threads", n)

    @contextmanager
    def cpu_threads(self, n: int) -> Iterator[None]:
        old = self.set_threads(n)
        try:
            yield
        finally:
            try:
                self._call("set_threads", old)
            except ModelError:
                pass  # a stopped process has no threads to restore

    def warm_up(self) -> None:
        """Start loading every part of the model in its process, and return at once: a query
        asked meanwhile runs as soon as the part it needs is loaded (the window's first query
        waits for its tower, not for both). A failure shows in the next call."""
        self._submit("warm_up")

    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        return self._call("encode_arrays", np.ascontiguousarray(batch, dtype=np.float32))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not self.supports_text:
            return super().encode_text(texts)
        return self._call("encode_text", list(texts))

    def close(self) -> None:
        """Stop the model process: requests already sent finish first, for STOP_GRACE_S at most."""
        with self._state_lock:
            if self._closing:
                return
            self._closing = True
        with self._send_lock:
            self._stop()
        self._reader.join()
