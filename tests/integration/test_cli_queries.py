"""The command line's richer questions: repeated photos, --add/--subtract with weights, saved
searches and CSV export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from libgen import LAYOUT, make_library

from photosearch_desktop.cli import main


@pytest.fixture
def indexed(tmp_path: Path, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[str]]:  # type: ignore[no-untyped-def]
    name, weights, _ = tiny_clip
    root = make_library(tmp_path / "Pictures")
    model_args = ["--model", name, "--weights", str(weights)]
    assert main(["index", str(root), *model_args, "-q"]) == 0
    capsys.readouterr()
    return root, model_args


def run(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:  # type: ignore[type-arg]
    assert main([*args, "--json", "--no-collapse"]) == 0
    return json.loads(capsys.readouterr().out)


def test_several_photos_and_not_this(indexed, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model = indexed
    base = ["search", str(root), *model, "-k", "30"]
    both = run(capsys, *base, "--photo", "2019/Trips/trip_00.jpg", "--photo", "2020/home_01.jpg")
    assert {"2019/Trips/trip_00.jpg", "2020/home_01.jpg"}.isdisjoint(r["path"] for r in both)
    one = run(capsys, *base, "--photo", "2019/Trips/trip_00.jpg")
    assert [r["path"] for r in both] != [r["path"] for r in one]

    avoided = run(capsys, *base, "--photo", "2019/Trips/trip_00.jpg", "--subtract", "2:2019/Home/home_00.jpg")
    assert "2019/Home/home_00.jpg" not in [r["path"] for r in avoided]
    weaker = run(capsys, *base, "--photo", "2019/Trips/trip_00.jpg", "--subtract", "0.1:2019/Home/home_00.jpg")
    assert [r["path"] for r in weaker] != [r["path"] for r in avoided]  # the weight matters

    words = run(capsys, *base, "--photo", "2019/Trips/trip_00.jpg", "--add", "2:a red car", "--subtract", "people")
    assert len(words) == len(LAYOUT) - 1 and words != one  # every photo but the query one


def test_save_list_and_run_a_saved_search(indexed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model = indexed
    made = run(capsys, "search", str(root), *model, "--photo", "2019/Trips/trip_02.jpg", "--subtract", "beach",
               "--folder", "2019", "-k", "5", "--save", "trips")
    assert main(["saved", str(root), *model, "--json"]) == 0
    (saved,) = json.loads(capsys.readouterr().out)
    assert saved["name"] == "trips" and saved["filters"]["folder"] == "2019"
    assert [(t["kind"], t["value"], t["weight"]) for t in saved["terms"]] == [
        ("photo", "2019/Trips/trip_02.jpg", 1.0), ("text", "beach", -1.0)]
    again = run(capsys, "search", str(root), *model, "--saved", "trips", "-k", "5")
    assert again == made
    assert main(["saved", str(root), *model]) == 0
    assert capsys.readouterr().out.strip() == "trips: +2019/Trips/trip_02.jpg, -beach (in 2019)"
    assert main(["search", str(root), *model, "--saved", "nope"]) == 1
    assert "no saved search named 'nope'" in capsys.readouterr().err


def test_an_empty_name_or_a_zero_weight_is_refused_in_words(indexed, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model = indexed
    # "--save ''" searched and saved nothing, without a word.
    assert main(["search", str(root), *model, "--photo", "2019/Trips/trip_02.jpg", "--save", " "]) == 1
    assert "A saved search needs a name." in capsys.readouterr().err
    assert main(["saved", str(root), *model, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # "0:" was read as part of the name: "'0:2019/Trips/trip_02.jpg' is not a photo of this library".
    assert main(["search", str(root), *model, "--photo", "0:2019/Trips/trip_02.jpg"]) == 1
    assert "The weight '0' in '0:2019/Trips/trip_02.jpg' must be a number above 0" in capsys.readouterr().err


def test_results_as_csv(indexed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model = indexed
    target = tmp_path / "out.csv"
    shown = run(capsys, "search", str(root), *model, "--photo", "2020/home_00.jpg", "-k", "6", "--csv", str(target))
    with open(target, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"] for r in rows] == [r["path"] for r in shown]
    assert [float(r["score"]) for r in rows] == pytest.approx([r["score"] for r in shown], abs=1e-5)
    assert rows[0]["taken_at"] == shown[0]["taken_at"]
