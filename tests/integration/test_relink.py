"""A library that moved is recognised: its index (vectors, saved data) moves with it and
nothing is embedded again. Through the facade and through the command line, tiny CLIP."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from libgen import LAYOUT, make_library, near_copy, picture

from photosearch_desktop.cli import main
from photosearch_desktop.engine.errors import LibraryError
from photosearch_desktop.engine.library import Library, find_moved_library, relink_library


def open_lib(root: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path) -> Library:
    name, weights, _ = tiny_clip
    return Library(root, data_dir=data_dir, model=name, weights=weights)


@pytest.fixture
def query(tmp_path: Path) -> Path:
    path = tmp_path / "query.png"
    near_copy(picture(105)).save(path)
    return path


def ranking(lib: Library, query: Path) -> list[tuple[str, float]]:
    return [(r.photo.rel_path, round(r.score, 5)) for r in lib.search_image(query, k=100)]


@pytest.fixture
def moved(tmp_path: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path, query: Path) -> Iterator[tuple[Path, Path, list]]:
    """A library indexed at old/Pictures, then moved to new/Photos. Yields (old, new, ranking)."""
    old = make_library(tmp_path / "old" / "Pictures")
    with open_lib(old, tiny_clip, data_dir) as lib:
        lib.index()
        before = ranking(lib, query)
        (lib.data_dir / "saved_searches.json").write_text("[]")  # anything of the library's own
    new = tmp_path / "new" / "Photos"
    new.parent.mkdir()
    old.rename(new)
    yield old, new, before


def embedded_by(lib: Library) -> list[int]:
    """A one-item list counting photos passed to the model from now on."""
    count = [0]
    embedder = lib.embedder()
    real = embedder.encode_arrays

    def counting(batch: np.ndarray) -> np.ndarray:
        count[0] += len(batch)
        return real(batch)

    embedder.encode_arrays = counting  # type: ignore[method-assign]
    return count


def test_a_moved_library_is_offered_and_its_index_moves_with_it(
    moved: tuple[Path, Path, list], tiny_clip: tuple[str, Path, Path], data_dir: Path, query: Path
) -> None:
    old, new, before = moved
    found = find_moved_library(new, data_dir)
    assert found is not None
    assert (found.old_root, found.new_root, found.photos) == (str(old), str(new), len(LAYOUT))
    assert found.sampled > 0 and found.matched == found.sampled

    relinked = relink_library(old, new, data_dir)
    assert relinked.photos == len(LAYOUT)
    with open_lib(new, tiny_clip, data_dir) as lib:
        assert (lib.data_dir / "saved_searches.json").read_text() == "[]"  # the whole data folder came along
        assert lib.status().indexed == len(LAYOUT)
        count = embedded_by(lib)
        report = lib.index()
        assert (report.added, report.deleted, report.offline, report.embedded, count[0]) == (0, 0, 0, 0, 0)
        assert ranking(lib, query) == before
        assert lib.search_image(query, k=1)[0].abs_path.startswith(str(new))
    assert find_moved_library(new, data_dir) is None  # it has its index now
    with pytest.raises(LibraryError, match="does not exist"):  # the old place has none left
        open_lib(old, tiny_clip, data_dir)


def test_an_empty_index_started_at_the_new_place_gives_way(
    moved: tuple[Path, Path, list], tiny_clip: tuple[str, Path, Path], data_dir: Path
) -> None:
    old, new, _ = moved
    open_lib(new, tiny_clip, data_dir).close()  # opened (e.g. status) before anyone noticed: an empty catalog
    assert find_moved_library(new, data_dir) is not None
    relink_library(old, new, data_dir)
    with open_lib(new, tiny_clip, data_dir) as lib:
        assert lib.status().indexed == len(LAYOUT)


def test_a_copy_is_not_offered_and_wrong_folders_are_refused(
    tmp_path: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path
) -> None:
    original = make_library(tmp_path / "Pictures")
    with open_lib(original, tiny_clip, data_dir) as lib:
        lib.index()
    copy = tmp_path / "Backup"
    shutil.copytree(original, copy, copy_function=shutil.copy2)  # same contents and times
    assert find_moved_library(copy, data_dir) is None  # the original still has its photos

    other = make_library(tmp_path / "Other")
    for path in other.rglob("*.jpg"):
        path.write_bytes(path.read_bytes() + b"\0")  # same names, other contents
    assert find_moved_library(other, data_dir) is None
    with pytest.raises(LibraryError, match=r"does not hold the photos of .*: 0 of \d+ photos"):
        relink_library(original, other, data_dir)
    with pytest.raises(LibraryError, match="No index of a library"):
        relink_library(tmp_path / "never-indexed", copy, data_dir)

    with open_lib(copy, tiny_clip, data_dir) as lib:
        lib.index()  # the copy gets an index of its own...
    with pytest.raises(LibraryError, match="already has an index of its own"):
        relink_library(original, copy, data_dir)  # ...which a relink never replaces


# -- the command line ----------------------------------------------------------------------------


def cli_search(root: Path, model_args: list[str], query: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple]:
    assert main(["search", str(root), *model_args, "--image", str(query), "-k", "50", "--json", "--no-collapse"]) == 0
    return [(r["path"], r["score"]) for r in json.loads(capsys.readouterr().out)]


def test_index_offers_the_moved_library_and_relink_uses_it(
    moved: tuple[Path, Path, list], tiny_clip: tuple[str, Path, Path], data_dir: Path, query: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new, before = moved
    model_args = ["--model", tiny_clip[0], "--weights", str(tiny_clip[1])]
    assert main(["index", str(new), *model_args, "-q"]) == 1  # not a terminal: asks for a decision
    err = capsys.readouterr().err
    assert f"This looks like the library that was at {old} — use its index?" in err and "--relink" in err

    assert main(["index", str(new), *model_args, "--relink", "--json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert (report["embedded"], report["added"], report["deleted"], report["offline"]) == (0, 0, 0, 0)
    assert report["totals"]["indexed"] == len(LAYOUT) and f"now belongs to {new}" in out.err
    # 1e-4: a GPU computer indexes on the GPU and searches on the CPU (scores moved by 2e-5 on an H200).
    assert cli_search(new, model_args, query, capsys) == [(p, pytest.approx(s, abs=1e-4)) for p, s in before][:50]


def test_relink_command_and_no_relink(
    moved: tuple[Path, Path, list], tiny_clip: tuple[str, Path, Path], data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new, _ = moved
    assert main(["status", str(new)]) == 0  # not indexed here yet: says where its index is
    assert f"photosearch relink {old} {new}" in capsys.readouterr().err
    assert main(["relink", str(old), str(new), "--json"]) == 0  # the empty index status started gives way
    doc = json.loads(capsys.readouterr().out)
    assert doc["old"] == str(old) and doc["new"] == str(new) and doc["photos"] == len(LAYOUT)
    assert main(["relink", str(old), str(new)]) == 1  # nothing left to move
    assert "No index of a library" in capsys.readouterr().err
    assert main(["status", str(new), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["indexed"] == len(LAYOUT)

    # Moved again, and this time the person wants a new index.
    newer = new.parent / "Again"
    new.rename(newer)
    model_args = ["--model", tiny_clip[0], "--weights", str(tiny_clip[1])]
    assert main(["index", str(newer), *model_args, "--no-relink", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["embedded"] == len(LAYOUT)
