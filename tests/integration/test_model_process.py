"""The model in a process of its own (what the window uses): same answers as in-process, torch
never imported by the caller, a killed model process replaced, and load errors passed on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from childproc import child_env, driver
from libgen import make_library, near_copy, picture

from photosearch_desktop.engine.errors import ModelError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.models import spawn
from photosearch_desktop.engine.models.process import ModelProcess, _receive, _send
from photosearch_desktop.engine.models.spawn import CREATE_NO_WINDOW, child_options, command, start_spare, take_spare


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_model_process_answers_like_the_model_in_process(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    _name, weights, config = tiny_clip
    model = f"clip:{config}"  # a config file: the model process cannot see this process's registrations
    root = make_library(tmp_path / "Pictures")
    query = tmp_path / "query.jpg"
    near_copy(picture(203)).save(query)  # 2019/Home/home_03.jpg, re-sized

    proc = subprocess.run(
        # A fresh interpreter, so that "was torch imported?" means something.
        [sys.executable, driver("model_process_session"), str(root), str(tmp_path / "separate"), model, str(weights), str(query)],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    with Library(root, data_dir=tmp_path / "inprocess", model=model, weights=weights) as lib:
        lib.index()
        expected_image = lib.search_image(query, k=5)
        expected_text = lib.search_text("a red square", k=5)
    for got, expected in ((out["image"], expected_image), (out["text"], expected_text), (out["after_kill"], expected_image)):
        assert [rel for rel, _ in got] == [r.photo.rel_path for r in expected]
        assert [score for _, score in got] == pytest.approx([r.score for r in expected], abs=1e-5)
    assert out["image"][0][0] == "2019/Home/home_03.jpg"

    assert not out["torch_imported"], "the caller must not import torch when the model runs apart"
    # The model process's log records reach the caller's handlers (the window's log file).
    assert sum("(model process) loaded open_clip/tiny-clip-test/" in m for m in out["forwarded_logs"]) == 2
    kind, message = out["call_after_kill"]
    assert kind == "ModelStopped" and "stopped unexpectedly (ended by signal 9" in message
    first, second = out["pids"]
    assert first != second, "a killed model process is replaced by a new one"
    assert out["stopped_on_close"] and _process_gone(first)


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_model_process_passes_load_errors_on_in_plain_words(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model.json"
    with pytest.raises(ModelError, match="The model config file .*no-such-model.json does not exist"):
        ModelProcess(f"clip:{missing}")


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_model_process_runs_without_a_stderr(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    """Under the Windows GUI launcher (pythonw) a process has no stderr: sys.stderr is None.
    The model process is started here with its fd 2 closed, which gives Python the same None,
    and must load and answer as usual."""
    _name, weights, config = tiny_clip
    child = subprocess.Popen(
        command(),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2),
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        # As ModelProcess sends it; on torch, so that no ONNX export lands in a default cache folder.
        _send(child.stdin, (f"clip:{config}", "cpu", weights, None, "torch", False, False, logging.WARNING))
        answer = _receive(child.stdout)
        while answer[0] == "log":
            answer = _receive(child.stdout)
        assert answer[0] == "ready", answer
        _send(child.stdin, (0, "encode_text", (["a red square"],)))
        request_id, ok, vectors = _receive(child.stdout)
        assert (request_id, ok, vectors.shape[0]) == (0, True, 1)
    finally:
        child.stdin.close()
        assert child.wait(30) == 0
        child.stdout.close()


def test_model_process_gets_a_stderr_and_no_window_from_a_gui_app() -> None:
    """What the caller adds to the model process's start: the null device as stderr when it has
    none itself (pythonw), and no console window on Windows."""
    assert child_options(None, "win32") == {"stderr": subprocess.DEVNULL, "creationflags": CREATE_NO_WINDOW}
    assert child_options(sys.stderr, "win32") == {"creationflags": CREATE_NO_WINDOW}
    assert child_options(sys.stderr, "linux") == {}
    assert child_options(None, "darwin") == {"stderr": subprocess.DEVNULL}


@pytest.mark.slow  # the model process imports torch: seconds
def test_the_next_model_takes_the_spare_process_started_early(tiny_clip) -> None:  # type: ignore[no-untyped-def]
    """The window starts a model process at launch (spawn.start_spare); the model that loads
    next runs in it instead of starting its own, and answers as usual."""
    _name, weights, config = tiny_clip
    start_spare()
    spare = spawn._spare
    assert spare is not None
    model = ModelProcess(f"clip:{config}", device="cpu", weights=weights, runtime="torch")
    try:
        assert model.pid == spare.pid
        assert take_spare() is None, "a spare serves one model"
        assert model.encode_text(["a red square"]).shape[0] == 1
    finally:
        model.close()


def test_a_spare_process_no_model_came_for_ends_quietly() -> None:
    start_spare()
    spare = take_spare()
    assert spare is not None and spare.poll() is None
    spawn._close(spare)
    assert spare.returncode == 0
