"""The thumbnail disk cache: valid while the photo is unchanged, trimmed least recently used first."""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from libgen import write_photo  # noqa: E402

from photosearch_desktop.ui import thumbnails  # noqa: E402
from photosearch_desktop.ui.thumbnails import (  # noqa: E402
    DISK_CACHE_TRIM_TO,
    STALE_PART_SECONDS,
    ThumbnailCache,
    make_thumbnail,
    trim_disk_cache,
)


def _cached(cache: Path, name: str, size: int, age_s: float) -> Path:
    path = cache / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_trim_deletes_least_recently_used_down_to_the_trim_level(tmp_path: Path) -> None:
    cache = tmp_path / "thumbs"
    files = [_cached(cache, f"{i:02d}{'a' * 38}.jpg", 1000, age_s=100 - i) for i in range(10)]  # 00 oldest
    stale = _cached(cache, "ffstale.123.part", 500, age_s=STALE_PART_SECONDS + 10)
    fresh = _cached(cache, "fefresh.456.part", 500, age_s=5)  # another window is writing it

    assert trim_disk_cache(cache, max_bytes=20_000) == 500  # under the limit: only the stale part
    assert all(f.exists() for f in files) and not stale.exists() and fresh.exists()

    freed = trim_disk_cache(cache, max_bytes=8_000)  # 10,000 bytes > 8,000: down to 6,400
    kept = [f for f in files if f.exists()]
    assert freed == 4000 and sum(f.stat().st_size for f in kept) <= DISK_CACHE_TRIM_TO * 8_000
    assert kept == files[4:]  # the four least recently used went
    assert fresh.exists()
    assert trim_disk_cache(tmp_path / "missing", max_bytes=1) == 0


def test_a_cache_hit_counts_as_a_use(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    write_photo(photo, seed=3, size=(120, 90))
    cache = tmp_path / "thumbs"
    make_thumbnail(photo, 64, cache)
    [cached] = list(cache.rglob("*.jpg"))
    os.utime(cached, (1_000_000, 1_000_000))
    image = make_thumbnail(photo, 64, cache)
    assert not image.isNull() and cached.stat().st_mtime > time.time() - 60
    assert trim_disk_cache(cache, max_bytes=cached.stat().st_size) == 0  # at the limit: kept


class _Housekeeping:
    """Stands in for the session's pool: records what is submitted."""

    def __init__(self) -> None:
        self.submitted: list[object] = []

    def submit(self, fn: object, on_done: object, on_failed: object = None, priority: int = 0) -> int:
        self.submitted.append(fn)
        return len(self.submitted)

    def cancel_all(self) -> None:
        pass


def test_the_disk_cache_is_trimmed_a_while_after_a_library_opens_not_at_once(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(thumbnails, "TRIM_DELAY_MS", 50)
    cache, housekeeping = ThumbnailCache(), _Housekeeping()
    cache.attach(_Housekeeping(), tmp_path, None, housekeeping=housekeeping)  # type: ignore[arg-type]
    assert housekeeping.submitted == []  # the first screen and query go first
    qtbot.waitUntil(lambda: len(housekeeping.submitted) == 1, timeout=2000)

    closed = _Housekeeping()
    cache.attach(_Housekeeping(), tmp_path, None, housekeeping=closed)  # type: ignore[arg-type]
    cache.detach()  # closed before its trim was due: nothing runs for it
    qtbot.wait(200)
    assert closed.submitted == [] and len(housekeeping.submitted) == 1
