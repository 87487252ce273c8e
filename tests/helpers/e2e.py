"""End-to-end plumbing shared by the reliability tests (tests/integration/reliability/): a
Library on the tiny CLIP, the ground truth of a search, the command line in this process or in
another one, and injected permission errors."""

from __future__ import annotations

import builtins
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from childproc import child_env, driver
from whitebox import catalog_of

from photosearch_desktop.cli import main
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.store.catalog import Catalog

NON_UTF8_OK = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not valid UTF-8
NON_UTF8_DIR = os.fsdecode(b"f\xff")
NON_UTF8_BAD = os.fsdecode(b"bad\xe9.jpg")


def open_lib(root: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path, **kw: object) -> Library:
    name, weights, _ = tiny_clip
    return Library(root, data_dir=data_dir, model=name, weights=weights, **kw)  # type: ignore[arg-type]


def all_vectors(catalog: Catalog) -> dict[int, np.ndarray]:
    """Every stored vector by photo id (whichever reading API the catalog offers)."""
    if hasattr(catalog, "iter_vectors"):
        out: dict[int, np.ndarray] = {}
        for ids, vecs in catalog.iter_vectors():
            out.update(zip(ids.tolist(), vecs, strict=True))
        return out
    ids, vecs = catalog.vectors()  # type: ignore[call-arg]
    return dict(zip(ids.tolist(), vecs, strict=True))


def brute_force(lib: Library, query: np.ndarray, k: int, exclude: tuple[int, ...] = ()) -> list[int]:
    """Top-k photo ids by exact cosine over the catalog's vectors: the ground truth of a search."""
    vecs = all_vectors(catalog_of(lib))
    scored = sorted(((float(np.dot(v, query)), pid) for pid, v in vecs.items() if pid not in exclude), reverse=True)
    return [pid for _, pid in scored[:k]]


def check_results(lib: Library, results: list[Any]) -> None:
    """Every result is a photo that exists, best first."""
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    for r in results:
        assert r.photo is not None and r.photo.rel_path
        assert Path(r.abs_path).is_file(), r.abs_path


def rels(results: list[Any]) -> list[str]:
    return [r.photo.rel_path for r in results]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return child_env(data_dir, **extra)


def cli_process(tiny_clip: tuple[str, Path, Path], data_dir: Path, *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    """``photosearch ARGS`` in another process, with the tiny CLIP architecture registered."""
    config = tiny_clip[2]
    return subprocess.Popen(
        [sys.executable, driver("cli_with_config"), str(config), *map(str, args)],
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def run_cli(tiny_clip: tuple[str, Path, Path], data_dir: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    proc = cli_process(tiny_clip, data_dir, *args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "surrogateescape")


def model_args(tiny_clip: tuple[str, Path, Path]) -> list[str]:
    return ["--model", tiny_clip[0], "--weights", str(tiny_clip[1])]


@contextmanager
def denied(monkeypatch: pytest.MonkeyPatch, files: list[Path], folders: list[Path]) -> Iterator[None]:
    """Reading ``files`` and listing ``folders`` fails with EACCES, as for a user without the
    permission. chmod is applied too (it is what bites when not running as root); the
    injection is what bites for root, whom chmod does not stop."""
    denied_files = {os.fspath(p) for p in files}
    denied_dirs = {os.fspath(p) for p in folders}
    real_open, real_os_open, real_scandir = builtins.open, os.open, os.scandir

    def check(path: object, pool: set[str]) -> None:
        if isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(os.fspath(path)) in pool:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(os.fspath(path)))

    def fake_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        check(file, denied_files)
        return real_open(file, *args, **kwargs)

    def fake_os_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        check(path, denied_files)
        return real_os_open(path, *args, **kwargs)

    def fake_scandir(path=".", *args, **kwargs):  # type: ignore[no-untyped-def]
        check(path, denied_dirs)
        return real_scandir(path, *args, **kwargs)

    modes = {p: p.stat().st_mode for p in [*files, *folders]}
    for p in modes:
        p.chmod(0)
    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    try:
        yield
    finally:
        monkeypatch.setattr(builtins, "open", real_open)
        monkeypatch.setattr(os, "open", real_os_open)
        monkeypatch.setattr(os, "scandir", real_scandir)
        for p, mode in modes.items():
            p.chmod(mode)


def can_unshare_mount() -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d; rmdir $d"],
        capture_output=True,
    )
    return probe.returncode == 0
