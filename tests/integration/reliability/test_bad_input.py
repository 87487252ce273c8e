"""Reliability (GitHub issue #6), end to end through Library and the command line, part 1: bad
input. Every unindexable file is listed with a reason, everything else is indexed, nothing
crashes or hangs (a stuck decode is bounded by PipelineOptions.decode_timeout).

The tests run as root in CI, where chmod does not stop reads: permission errors are injected,
and the real thing is checked by running the command line as ``nobody`` when possible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from childproc import driver
from e2e import NON_UTF8_BAD, NON_UTF8_DIR, NON_UTF8_OK, cli, cli_env, denied, model_args, open_lib, rels, run_cli
from imagegen import gif_bomb, gif_with_far_frame, gradient, png_bomb, random_bytes, truncated_copy, write_jpeg
from libgen import LAYOUT, make_library, picture, write_photo
from PIL import Image
from shareddata import shared_dataset
from whitebox import catalog_of

from photosearch_desktop.engine.embed import pipeline
from photosearch_desktop.engine.errors import LoadError
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.models.handle import ModelHandle
from photosearch_desktop.engine.records import PipelineOptions

pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def build_hostile_library(root: Path) -> tuple[set[str], dict[str, str]]:
    """Good photos plus every kind of trouble. Returns (paths that must be indexed, paths that
    must be listed as skipped -> a word their reason must contain)."""
    make_library(root)
    good = {rel for rel, _, _ in LAYOUT}
    bad: dict[str, str] = {}
    b, odd = root / "bad", root / "odd"
    b.mkdir()
    odd.mkdir()

    (b / "empty.jpg").write_bytes(b"")
    bad["bad/empty.jpg"] = "empty"
    source = write_photo(root / "source-not-kept.jpg", seed=77, size=(640, 480))
    data = source.read_bytes()
    source.unlink()
    for cut in (2, 200, len(data) // 10, len(data) // 2, len(data) * 9 // 10, len(data) - 50):
        (b / f"cut_{cut}.jpg").write_bytes(data[:cut])
        # Two bytes are only the start of a JPEG signature: "not an image" is fair there.
        bad[f"bad/cut_{cut}.jpg"] = "truncated" if cut > 2 else "not an image"
    picture(78, (320, 240)).save(b / "whole.png")
    truncated_copy(b / "whole.png", b / "cut.png", 0.5)
    (b / "whole.png").unlink()
    bad["bad/cut.png"] = "truncated"
    for i, name in enumerate(("random.jpg", "random.png", "random.heic", "random.tif")):
        random_bytes(b / name, seed=i)
        bad[f"bad/{name}"] = "not an image|not a known"
    png_bomb(b / "bomb.png")
    gif_bomb(b / "bomb.gif")
    gif_with_far_frame(b / "far_frame.gif")
    for name in ("bomb.png", "bomb.gif", "far_frame.gif"):
        bad[f"bad/{name}"] = "decompression bomb"
    random_bytes(root / NON_UTF8_BAD)
    bad[NON_UTF8_BAD] = "not an image"

    write_jpeg(odd / "really_a_jpeg.heic", picture(79))
    gradient((1, 20000), vertical=True).save(odd / "thin_1x20000.png")
    gradient((20000, 1)).save(odd / "wide_20000x1.png")
    grey16 = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    Image.fromarray(grey16).save(odd / "grey16.tif")  # mode I;16
    Image.fromarray(grey16).save(odd / "grey16.png")
    write_photo(root / NON_UTF8_OK, seed=80)
    write_photo(root / NON_UTF8_DIR / "photo.jpg", seed=81)
    good |= {"odd/really_a_jpeg.heic", "odd/thin_1x20000.png", "odd/wide_20000x1.png", "odd/grey16.tif",
             "odd/grey16.png", NON_UTF8_OK, f"{NON_UTF8_DIR}/photo.jpg"}

    loops = root / "loops"
    loops.mkdir()
    write_photo(loops / "inside.jpg", seed=82)
    good.add("loops/inside.jpg")
    os.symlink("..", loops / "up")  # loops/up/loops/up/...
    os.symlink(loops, loops / "again")
    os.symlink("self.jpg", loops / "self.jpg")  # ELOOP
    os.symlink("missing.jpg", loops / "dangling.jpg")
    bad["loops/self.jpg"] = "symbolic links|link"
    bad["loops/dangling.jpg"] = "link"

    write_photo(root / "locked" / "secret.jpg", seed=83)
    write_photo(root / "locked" / "readable.jpg", seed=84)
    good.add("locked/readable.jpg")
    bad["locked/secret.jpg"] = "permission denied"
    write_photo(root / "locked_dir" / "inside.jpg", seed=85)
    bad["locked_dir"] = "folder cannot be read"

    race = root / "race"
    for i, name in enumerate(("vanishes.jpg", "replaced.jpg", "being_copied.jpg")):
        write_photo(race / name, seed=90 + i)
    good.add("race/replaced.jpg")
    bad["race/vanishes.jpg"] = "disappeared|gone"
    bad["race/being_copied.jpg"] = "truncated"
    return good, bad


def test_hostile_library_end_to_end(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "Pictures"
    good, bad = build_hostile_library(root)
    race = root / "race"
    full_copy = (race / "being_copied.jpg").read_bytes()
    replacement = picture(999, (200, 150))
    raced = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        # After the scan, before any decode: the files change under the indexer's feet.
        if p.phase == "embedding" and not raced:
            raced.append(True)
            (race / "vanishes.jpg").unlink()
            write_jpeg(race / "replaced.jpg", replacement)
            (race / "being_copied.jpg").write_bytes(full_copy[: len(full_copy) // 3])

    lib = open_lib(root, tiny_clip, data_dir)
    started = time.perf_counter()
    with denied(monkeypatch, [root / "locked" / "secret.jpg"], [root / "locked_dir"]):
        report = lib.index(progress=progress, options=PipelineOptions(batch_size=8, commit_every=16))
    seconds = time.perf_counter() - started
    assert raced and not report.cancelled
    assert seconds < 60, f"indexing the hostile library took {seconds:.0f} s"

    status = lib.status()
    indexed = {rel for rel, k in catalog_of(lib).known_files().items() if k.status == "indexed"}
    skipped = {s.rel_path: s.reason for s in status.skipped}
    assert indexed == good
    assert set(skipped) == set(bad), f"unexpected: {set(skipped) ^ set(bad)}"
    for rel, words in bad.items():
        reason = skipped[rel]
        assert any(w in reason.lower() for w in words.split("|")), f"{rel}: {reason!r}"
        assert len(reason) > 15 and "Traceback" not in reason and "Errno" not in reason, f"{rel}: {reason!r}"
    assert status.pending == 0 and status.indexed == len(good)
    assert catalog_of(lib).consistency_problems() == []
    # The photo replaced between scan and decode was indexed with what is there now.
    assert rels(lib.search_pil(replacement, k=1)) == ["race/replaced.jpg"]
    lib.close()

    # `photosearch status --json` tells the same story, non-UTF-8 names included.
    code, out, _ = cli(capsys, "status", root, "--json")
    assert code == 0
    st = json.loads(out)
    assert {s["path"]: s["reason"] for s in st["skipped"]} == skipped
    assert (st["indexed"], st["pending"], st["skipped_count"]) == (len(good), 0, len(bad))

    # Next run: the copy has finished, the vanished file is gone for good, the readable
    # folder's photo is found, and the file that could not be read is tried again although it
    # did not change (fixing permissions leaves mtime alone); nothing else is redone.
    (race / "being_copied.jpg").write_bytes(full_copy)
    lib = open_lib(root, tiny_clip, data_dir)
    report = lib.index()
    # being_copied, replaced (its stat changed), locked_dir, locked/secret (retried)
    assert report.deleted == 1 and report.embedded == 4
    status = lib.status()
    retried = {"race/vanishes.jpg", "race/being_copied.jpg", "locked_dir", "locked/secret.jpg"}
    assert {s.rel_path for s in status.skipped} == set(bad) - retried
    assert status.indexed == len(good) + 3 and status.pending == 0
    assert catalog_of(lib).consistency_problems() == []
    lib.close()


@pytest.mark.slow
def test_non_utf8_names_in_text_output(tmp_path: Path, tiny_clip, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lib"
    write_photo(root / NON_UTF8_OK, seed=1)
    random_bytes(root / NON_UTF8_BAD)
    data = data_dir
    assert run_cli(tiny_clip, data, "index", root, *model_args(tiny_clip), "-q")[0] == 0
    # A desktop's UTF-8 locale (en_US.UTF-8) gives stdout errors='strict'; PYTHONIOENCODING does the same.
    env = cli_env(data, PYTHONIOENCODING="utf-8")
    for args in (["status", root], ["search", root, *model_args(tiny_clip), "--text", "a cat"]):
        done = subprocess.run(
            [sys.executable, driver("cli_with_config"), str(tiny_clip[2]), *map(str, args)], env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")


def _jpeg_claiming(path: Path, width: int, height: int) -> Path:
    """A small valid JPEG whose frame header (SOF0) claims width x height."""
    write_jpeg(path, picture(5, (64, 48)))
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def test_bombs_are_refused_before_decoding_end_to_end(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "lib"
    root.mkdir()
    bombs = {
        "bomb.png": png_bomb(root / "bomb.png"),  # 100,000 x 100,000
        "bomb.gif": gif_bomb(root / "bomb.gif"),
        "far_frame.gif": gif_with_far_frame(root / "far_frame.gif"),
        "bomb.jpg": _jpeg_claiming(root / "bomb.jpg", 65_500, 65_500),
    }
    write_photo(root / "ok.jpg", seed=1)
    lib = open_lib(root, tiny_clip, data_dir)
    lib.embedder()  # the model's memory is not the bombs'
    seconds: dict[str, float] = {}
    real = pipeline._decode

    def timed(base, photo_id, rel, embedder):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return real(base, photo_id, rel, embedder)
        finally:
            seconds[rel] = time.perf_counter() - t

    monkeypatch.setattr(pipeline, "_decode", timed)
    measure_memory = Path("/proc/self/clear_refs").exists()
    if measure_memory:
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
        rss_before = _status_kb("VmRSS")
    report = lib.index()
    assert report.embedded == 1 and report.skipped == len(bombs)
    reasons = {s.rel_path: s.reason for s in lib.status().skipped}
    assert set(reasons) == set(bombs)
    for name in bombs:
        assert "decompression bomb" in reasons[name]
        assert seconds[name] < 1.0, f"{name} took {seconds[name]:.2f} s"
    if measure_memory:
        grew_mb = (_status_kb("VmHWM") - rss_before) / 1024
        assert grew_mb < 200, f"peak memory grew by {grew_mb:.0f} MB"
    lib.close()


def test_long_thin_image_is_cheap_at_real_clip_input_size(tiny_clip) -> None:  # type: ignore[no-untyped-def]
    """1 x 20000 px at ViT-B/32's 224 px: resizing the whole strip before cropping took 18 s
    and 4 GB; only the centre square is scaled now."""
    from photosearch_desktop.engine.models.factory import create_embedder
    from photosearch_desktop.engine.models.preprocess import ClipPreprocess

    tiny = create_embedder(tiny_clip[0], device="cpu", weights=tiny_clip[1]).preprocessor
    assert isinstance(tiny, ClipPreprocess)
    preprocess = ClipPreprocess(224, tiny.mean, tiny.std)
    for size in ((1, 20000), (20000, 1)):
        image = gradient(size, vertical=size[0] == 1)
        t = time.perf_counter()
        arr = preprocess(image)
        assert arr.shape == (3, 224, 224) and np.isfinite(arr).all()
        assert time.perf_counter() - t < 1.0
    # Ordinary photos keep open_clip's exact transform (resize, then centre crop).
    photo = picture(3, (400, 300))
    expected = photo.resize((299, 224), Image.Resampling.BICUBIC, reducing_gap=3.0).crop((37, 0, 261, 224))
    got = np.asarray(expected, dtype=np.float32).transpose(2, 0, 1) / 255.0
    mean, std = (np.asarray(v, dtype=np.float32).reshape(3, 1, 1) for v in (tiny.mean, tiny.std))
    np.testing.assert_allclose(preprocess(photo), (got - mean) / std, atol=1e-6)


def _stuck_on(monkeypatch: pytest.MonkeyPatch, names: set[str]) -> threading.Event:
    """Decodes of ``names`` hang (like a read from a dead network drive) until released."""
    release = threading.Event()
    real = pipeline._decode

    def decode(base, photo_id, rel, embedder):  # type: ignore[no-untyped-def]
        if rel in names:
            release.wait(300)
        return real(base, photo_id, rel, embedder)

    monkeypatch.setattr(pipeline, "_decode", decode)
    return release


@pytest.mark.expect_log(r"^photo \d+: decoding took more than 1 s; skipped$")  # the two stuck photos
def test_a_stuck_decode_is_skipped_and_the_run_goes_on(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    stuck = {"2019/Trips/trip_03.jpg", "2020/home_02.jpg"}
    release = _stuck_on(monkeypatch, stuck)
    lib = open_lib(root, tiny_clip, data_dir)
    lib.embedder()
    try:
        t = time.perf_counter()
        # One decode thread: each stuck decode would stop the whole pool if it were not replaced.
        report = lib.index(options=PipelineOptions(decode_workers=1, decode_timeout=1.0, batch_size=4, commit_every=4))
        elapsed = time.perf_counter() - t
    finally:
        release.set()
    assert elapsed < 15, f"{elapsed:.1f} s"
    assert (report.embedded, report.skipped, report.cancelled) == (len(LAYOUT) - 2, 2, False)
    reasons = {s.rel_path: s.reason for s in lib.status().skipped}
    assert set(reasons) == stuck
    assert all(r.startswith("Took too long to decode (more than 1 s)") for r in reasons.values())
    assert catalog_of(lib).consistency_problems() == []
    lib.close()


def test_cancel_while_a_decode_is_stuck_returns_at_once_and_resumes(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    root = make_library(tmp_path / "lib")
    release = _stuck_on(monkeypatch, {"2019/Home/home_02.jpg"})
    lib = open_lib(root, tiny_clip, data_dir)
    lib.embedder()
    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)  # the window is closed while the decode hangs
    timer.start()
    try:
        t = time.perf_counter()
        report = lib.index(cancel=cancel, options=PipelineOptions(batch_size=2, commit_every=2))
        elapsed = time.perf_counter() - t
    finally:
        release.set()
        timer.cancel()
    assert report.cancelled and elapsed < 5, f"{elapsed:.1f} s"  # not the 60 s bound, nor waiting for the thread
    assert catalog_of(lib).consistency_problems() == []
    pending = lib.status().pending
    lib.close()
    lib = open_lib(root, tiny_clip, data_dir)
    assert lib.index().embedded == pending
    assert lib.status().indexed == len(LAYOUT)
    lib.close()


@pytest.mark.slow
def test_a_stuck_decode_does_not_keep_the_process_alive(tmp_path: Path, tiny_clip) -> None:  # type: ignore[no-untyped-def]
    """The thread stuck in a decode cannot be killed: the command must still finish and exit."""
    root = make_library(tmp_path / "lib")
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, driver("cli_with_stuck_decode"), str(tiny_clip[2]), "2020/home_00.jpg",
         "index", str(root), *model_args(tiny_clip), "--json"],
        env=cli_env(tmp_path / "data"), capture_output=True, timeout=120,
    )
    elapsed = time.perf_counter() - t
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert (out["embedded"], out["skipped"]) == (len(LAYOUT) - 1, 1)
    assert elapsed < 60


def _as_nobody() -> list[str] | None:
    """The command prefix that drops root's privileges, or [] when not root (chmod bites
    already), or None when dropping them is impossible here."""
    if os.name != "posix":
        return None
    if os.geteuid() != 0:
        return []
    tool = shutil.which("setpriv")
    if tool is None:
        return None
    try:
        import pwd

        pwd.getpwnam("nobody")
    except KeyError:
        return None
    return [tool, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.mark.slow
def test_unreadable_file_and_folder_with_real_permissions(tiny_clip) -> None:  # type: ignore[no-untyped-def]
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("cannot run as an unprivileged user here")
    base = Path(tempfile.mkdtemp(prefix="photosearch-perm-"))  # not pytest's tmp: nobody must enter it
    try:
        base.chmod(0o755)
        root = base / "lib"
        write_photo(root / "a.jpg", seed=1)
        write_photo(root / "secret.jpg", seed=2).chmod(0)
        write_photo(root / "closed" / "inside.jpg", seed=3)
        (root / "closed").chmod(0)
        model = base / "model"
        model.mkdir()
        shutil.copy(tiny_clip[1], model / "w.pt")
        shutil.copy(tiny_clip[2], model / tiny_clip[2].name)  # the file's name is the architecture's
        for p in (base, root, model, *model.iterdir()):
            p.chmod(p.stat().st_mode | 0o755 if p.is_dir() else 0o644)
        (root / "a.jpg").chmod(0o644)
        data = base / "data"
        data.mkdir(mode=0o777)
        data.chmod(0o777)
        env = cli_env(data, HOME=str(data))
        base_cmd = [*prefix, sys.executable, driver("cli_with_config"), str(model / tiny_clip[2].name)]
        index = subprocess.run(
            [*base_cmd, "index", str(root), "--model", tiny_clip[0], "--weights", str(model / "w.pt"), "--json"],
            env=env, capture_output=True, timeout=120, cwd=base,
        )
        assert index.returncode == 0, index.stderr.decode()
        status = subprocess.run([*base_cmd, "status", str(root), "--json"], env=env, capture_output=True, timeout=60, cwd=base)
        assert status.returncode == 0, status.stderr.decode()
        st = json.loads(status.stdout)
        reasons = {s["path"]: s["reason"] for s in st["skipped"]}
        assert st["indexed"] == 1 and set(reasons) == {"secret.jpg", "closed"}
        assert "Permission denied" in reasons["secret.jpg"]
        assert reasons["closed"] == "Folder cannot be read: Permission denied"
    finally:
        for p in (base / "lib" / "closed", base / "lib" / "secret.jpg"):
            if p.exists() or p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_messy_dev_end_to_end_through_the_command_line(
    tmp_path: Path, tiny_clip, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """Every file the scan finds in messy-dev ends indexed or listed with a reason (the
    manifest's verdicts are checked by test_real_data.py)."""
    from photosearch_desktop.engine.scan.scanner import scan_library

    root = shared_dataset("messy-dev") / "files"
    data = tmp_path / "data"
    code, out, err = cli(capsys, "index", root, *model_args(tiny_clip), "--data-dir", data, "--json")
    assert code == 0, err
    code, out, err = cli(capsys, "status", root, "--data-dir", data, "--json")
    assert code == 0, err
    st = json.loads(out)
    scan = scan_library(root)
    skipped = {s["path"]: s["reason"] for s in st["skipped"]}
    assert st["pending"] == 0 and st["total"] == len(scan.files)
    assert st["indexed"] + len(skipped) == len(scan.files) + len(scan.problems)
    assert all(len(reason) > 10 for reason in skipped.values())
    with Library(root, data_dir=data) as lib:
        assert catalog_of(lib).consistency_problems() == []


def test_a_query_photo_missing_or_no_image_is_refused_without_waiting_for_the_model(
    tmp_path: Path, tiny_clip, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A mistyped path is refused before the model is asked for. A file that is no image is
    refused from its header while the model loads ahead of the query (held here for 30 s, as
    a first export can take), and closing the library does not wait for that load either: a
    command whose query failed once waited for all of it."""
    root = make_library(tmp_path / "lib")
    lib = open_lib(root, tiny_clip, data_dir)
    lib.index()
    lib.close()
    release = threading.Event()
    real_load = ModelHandle._load

    def held_load(self: ModelHandle):  # type: ignore[no-untyped-def]
        release.wait(30)
        return real_load(self)

    monkeypatch.setattr(ModelHandle, "_load", held_load)
    lib = open_lib(root, tiny_clip, data_dir)
    try:
        with pytest.raises(LoadError, match=r"The query photo .*nowhere\.jpg does not exist"):
            lib.search_image(tmp_path / "nowhere.jpg")
        assert not [t for t in threading.enumerate() if t.name == "model-ahead"]  # nothing started loading
        junk = tmp_path / "junk.jpg"
        random_bytes(junk)
        started = time.monotonic()
        with pytest.raises(LoadError, match=r"\(the query photo .*junk\.jpg\)") as info:
            lib.search_image(junk)
        assert info.value.code == "not-an-image"
        lib.close()
        assert time.monotonic() - started < 10
    finally:
        release.set()
