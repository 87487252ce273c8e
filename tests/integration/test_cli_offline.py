"""The command line when the photos' drive is not there: a message, exit 0, nothing lost;
``--remove-missing`` drops them; ``status`` counts them. Tiny CLIP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from libgen import LAYOUT, make_library, near_copy, picture

from photosearch_desktop.cli import main


@pytest.fixture
def indexed(tmp_path: Path, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[str]]:  # type: ignore[no-untyped-def]
    name, weights, _ = tiny_clip
    root = make_library(tmp_path / "Pictures")
    model_args = ["--model", name, "--weights", str(weights)]
    assert main(["index", str(root), *model_args, "-q"]) == 0
    capsys.readouterr()
    return root, model_args


def test_an_unplugged_drive_is_reported_and_kept(
    indexed: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, model_args = indexed
    query = tmp_path / "q.jpg"
    near_copy(picture(105)).save(query)
    search = ["search", str(root), *model_args, "--image", str(query), "-k", "50", "--json", "--no-collapse"]
    assert main(search) == 0
    before = json.loads(capsys.readouterr().out)
    root.rename(tmp_path / "drive")
    root.mkdir()

    assert main(["index", str(root), *model_args, "-q"]) == 0
    out = capsys.readouterr().out
    assert "0 deleted" in out and f"The photo folder {root} ({len(LAYOUT)} photos) is not reachable — is a drive disconnected?" in out
    assert "--remove-missing" in out and f"{len(LAYOUT)} offline" in out

    assert main(["status", str(root), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert (st["indexed"], st["offline"], st["total"], st["reachable"]) == (0, len(LAYOUT), len(LAYOUT), True)
    assert sum(f["photos"] for f in st["offline_folders"]) == len(LAYOUT)
    assert main(["status", str(root)]) == 0
    assert "is not reachable — is a drive disconnected?" in capsys.readouterr().out

    assert main(search) == 1  # nothing online to search: said plainly
    err = capsys.readouterr().err
    assert "are offline" in err and "Connect the drive" in err and "\n" not in err.strip()

    root.rmdir()
    (tmp_path / "drive").rename(root)
    assert main(["index", str(root), *model_args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["returned"], report["embedded"], report["totals"]["offline"]) == (len(LAYOUT), 0, 0)
    assert main(search) == 0
    assert json.loads(capsys.readouterr().out) == before


def test_a_missing_folder_and_remove_missing(
    indexed: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, model_args = indexed
    in_2019 = sum(rel.startswith("2019/") for rel, _, _ in LAYOUT)
    (root / "2019").rename(tmp_path / "2019")
    assert main(["index", str(root), *model_args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["offline"], report["deleted"]) == (in_2019, 0)
    assert report["offline_folders"] == [{"folder": "2019", "photos": in_2019}]
    assert main(["search", str(root), *model_args, "--photo", "2020/home_00.jpg", "-k", "50", "--json"]) == 0
    found = capsys.readouterr()
    assert not any(r["path"].startswith("2019/") for r in json.loads(found.out))
    assert f"{in_2019} offline photos" in found.err  # said, on stderr

    assert main(["index", str(root), *model_args, "--remove-missing", "-q"]) == 0
    assert f"{in_2019} deleted" in capsys.readouterr().out
    assert main(["status", str(root), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert (st["offline"], st["indexed"], st["offline_folders"]) == (0, len(LAYOUT) - in_2019, [])


def test_a_mount_point_that_is_gone(indexed: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, model_args = indexed
    root.rename(tmp_path / "drive")
    assert main(["status", str(root)]) == 0  # an indexed library opens without its folder
    assert main(["index", str(root), *model_args, "-q"]) == 0
    assert "is not reachable" in capsys.readouterr().out
    assert main(["status", str(root), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert (st["reachable"], st["offline"]) == (False, len(LAYOUT))
