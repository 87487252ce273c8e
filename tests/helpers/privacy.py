"""Checks that what the app writes is readable by its owner alone (POSIX permission bits)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

OTHERS = 0o077  # group and other permission bits
NOBODY = 65534

posix_only = pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX (Windows: AppData's access lists)")


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The usual umask of a Linux desktop is 022: files 0644 in folders 0755 unless told otherwise."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def all_paths(top: Path) -> list[Path]:
    """``top`` and every path under it, links included but not followed."""
    out = [top]
    for folder, dirs, files in os.walk(top):
        out += [Path(folder) / name for name in (*dirs, *files)]
    return out


def loose_paths(paths: list[Path] | Path) -> list[str]:
    """Those of ``paths`` (or every path under one folder) that another account could read or
    enter, as "MODE path" (links have no mode of their own and are left out)."""
    found = []
    for path in all_paths(paths) if isinstance(paths, Path) else paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:  # a temporary file renamed meanwhile (the window works on)
            continue
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & OTHERS:
            found.append(f"{stat.S_IMODE(st.st_mode):04o} {path}")
    return found


def loosen(top: Path) -> int:
    """Make ``top`` and everything under it what the previous version left: folders 0755,
    files 0644. Returns how many paths were changed."""
    n = 0
    for path in all_paths(top):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        os.chmod(path, 0o755 if stat.S_ISDIR(st.st_mode) else 0o644)
        n += 1
    return n


def readable_by_another_account(path: Path) -> bool:
    """Whether the account ``nobody`` can read the file ``path`` (run as root, which may act as
    any account; the test's Python lies in root's home, so a system tool reads)."""
    if os.geteuid() != 0:
        pytest.skip("acting as another account needs root (this test runs as a normal user)")
    done = subprocess.run(["head", "-c1", str(path)], user=NOBODY, group=NOBODY, extra_groups=[],
                          capture_output=True, cwd="/")
    return done.returncode == 0
