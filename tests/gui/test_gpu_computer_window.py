"""The window on a computer where a GPU is expected (simulated: none answers here, so the GPU's
model process decides for the CPU too): a large index run loads the GPU's model in a process
of its own and lets it go when the run ends; queries are answered by the CPU's model, started
as on a computer without a GPU."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from gpucomputer import simulate_gpu_computer
from test_gui import PHOTOS, _near_copy, drop_files, make_library, new_window, wait_indexed, wait_results


@pytest.mark.slow  # over 8 s on 2 cores: out of the fast lane (issue 15)
def test_a_large_run_uses_the_gpus_model_and_queries_the_cpus(qtbot, data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    library = make_library(tmp_path / "Photos")
    seen = simulate_gpu_computer(monkeypatch, PHOTOS)  # the library's first run is "large"

    window = new_window(qtbot, data_dir)
    window.library.open(library)
    wait_indexed(qtbot, window)
    assert ("load", False) in seen and ("close", False) in seen, "the run loaded the GPU's model and let it go"
    assert seen.index(("close", False)) > seen.index(("load", False))
    assert "ONNX Runtime" in window.summary.text(), "queries run on the CPU's model"

    drop_files(window, _near_copy(library / "2019" / "Trips" / "trip3.jpg", tmp_path / "holiday.jpg"))
    assert wait_results(qtbot, window)[0] == "2019/Trips/trip3.jpg"
    assert ("load", True) in seen and ("close", True) not in seen, "the CPU's model stays for the next query"
