"""Downloaded CLIP weights are checked before they are used: against the sha256 their publisher
lists (the registry), else against the one recorded at the first download; a file that does not
match is refused with a message, and nothing is downloaded unless the person asks.

No model can be downloaded here, so the model cache is laid out as the hub client leaves it
(tests/helpers/hubcache.py), with files that are not real weights, and the network is refused:
the tests show what happens *before* any download would start.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
from pathlib import Path

import pytest
from hubcache import B16_REPO, B32_REPO, cache_weights, tamper
from libgen import make_library

from photosearch_desktop.cli import main
from photosearch_desktop.engine.errors import Action, ModelError
from photosearch_desktop.engine.library import Library, app_dirs
from photosearch_desktop.engine.models.registry import MODELS
from photosearch_desktop.engine.models.weights import RECORD_FILE


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The hub is offline; any connection attempt, and any call of the hub client's download, is
    refused and counted."""
    import huggingface_hub

    tried: list[object] = []

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        tried.append(args)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tried


def test_the_registry_lists_the_publishers_sha256_where_it_is_known() -> None:
    b32 = MODELS["clip-vit-b-32"]
    published = b32.published_sha256("open_clip_model.safetensors")
    assert published is not None and len(published) == 64 and int(published, 16) >= 0
    assert b32.published_sha256("open_clip_pytorch_model.bin") is None  # trusted on first use
    assert MODELS["clip-vit-b-16"].weights_sha256 == ()  # not found in public material: trusted on first use


def test_a_tampered_file_is_refused_against_the_publishers_sha256_without_a_download(
    tmp_path: Path, data_dir: Path, no_network: list[object], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = make_library(tmp_path / "Photos")
    weights = cache_weights(app_dirs(data_dir).models, B32_REPO, "open_clip_model.safetensors", os.urandom(4096))
    lib = Library(root, data_dir=data_dir, model="clip-vit-b-32")
    with pytest.raises(ModelError, match="does not match the sha256 its publisher lists") as refused:
        lib.embedder()
    lib.close()
    assert str(weights) in refused.value.message
    assert refused.value.hint.actions[0] is Action.DOWNLOAD_WEIGHTS_AGAIN
    assert no_network == []
    assert weights.exists()  # refused, not deleted: nothing happens unless the person asks
    # Not even the offline switch is needed: a cached file is found on disk alone.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with Library(root, data_dir=data_dir, model="clip-vit-b-32") as lib, pytest.raises(ModelError, match="publisher"):
        lib.embedder()
    assert no_network == []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    # The command line says what to do in its own words, in one line.
    assert main(["index", str(root), "--model", "clip-vit-b-32", "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not match the sha256 its publisher lists" in err
    assert "--redownload-weights" in err
    assert no_network == []


def test_a_file_matching_the_publishers_sha256_is_used(
    tmp_path: Path, data_dir: Path, no_network: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """(The real 605 MB file cannot be had here: the registry's hash is set to the fake's.)"""
    content = os.urandom(4096)
    cache_weights(app_dirs(data_dir).models, B32_REPO, "open_clip_model.safetensors", content)
    spec = MODELS["clip-vit-b-32"]
    fake = type(spec)(**{**spec.__dict__, "weights_sha256": (("open_clip_model.safetensors",
                                                              hashlib.sha256(content).hexdigest()),)})
    monkeypatch.setitem(MODELS, "clip-vit-b-32", fake)
    lib = Library(make_library(tmp_path / "Photos"), data_dir=data_dir, model="clip-vit-b-32")
    with pytest.raises(ModelError, match="cannot be read as a checkpoint") as damaged:  # checked, then loaded
        lib.embedder()
    lib.close()
    assert damaged.value.hint.actions == (Action.DOWNLOAD_WEIGHTS_AGAIN,)
    assert no_network == []


def test_without_a_published_sha256_the_first_download_is_trusted_and_recorded(
    tmp_path: Path, data_dir: Path, no_network: list[object]
) -> None:
    root = make_library(tmp_path / "Photos")
    models = app_dirs(data_dir).models
    content = os.urandom(4096)
    weights = cache_weights(models, B16_REPO, "open_clip_pytorch_model.bin", content)
    lib = Library(root, data_dir=data_dir, model="clip-vit-b-16")
    with pytest.raises(ModelError, match="cannot be read as a checkpoint"):  # first use: recorded, then loaded
        lib.embedder()
    record = models / RECORD_FILE
    assert json.loads(record.read_text()) == {
        f"{B16_REPO}/open_clip_pytorch_model.bin": hashlib.sha256(content).hexdigest()
    }
    assert stat.S_IMODE(record.stat().st_mode) == 0o600

    tamper(weights)
    with pytest.raises(ModelError, match="does not match the sha256 recorded when it was downloaded") as refused:
        lib.embedder()
    lib.close()
    assert Action.DOWNLOAD_WEIGHTS_AGAIN in refused.value.hint
    assert no_network == []

    # Asked to download again: the cached file is not used, the hub is asked (offline here).
    lib = Library(root, data_dir=data_dir, model="clip-vit-b-16", redownload_weights=True)
    with pytest.raises(ModelError, match="could not be downloaded") as offline:
        lib.embedder()
    lib.close()
    assert Action.CONNECT in offline.value.hint
    assert json.loads(record.read_text())[f"{B16_REPO}/open_clip_pytorch_model.bin"] == hashlib.sha256(
        content).hexdigest()  # renewed only by a download that happened
