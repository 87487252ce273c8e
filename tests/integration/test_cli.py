"""The ``photosearch`` command line: output schema, exit codes, data location."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from imagegen import random_bytes
from libgen import LAYOUT, make_library, near_copy, picture

from photosearch_desktop.cli import main


@pytest.fixture
def indexed(tmp_path: Path, tiny_clip, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[str]]:  # type: ignore[no-untyped-def]
    name, weights, _ = tiny_clip
    root = make_library(tmp_path / "Pictures")
    random_bytes(root / "broken.jpg")
    model_args = ["--model", name, "--weights", str(weights)]
    assert main(["index", str(root), *model_args, "-q"]) == 0
    capsys.readouterr()
    return root, model_args


def test_search_json_schema(indexed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model_args = indexed
    query = tmp_path / "q.jpg"
    near_copy(picture(105)).save(query)
    assert main(["search", str(root), *model_args, "--image", str(query), "-k", "4", "--json", "--no-collapse"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert isinstance(results, list) and len(results) == 4
    assert set(results[0]) == {
        "rank", "id", "path", "abs_path", "score", "taken_at", "taken_source", "width", "height", "folded"
    }
    assert all(r["folded"] == [] for r in results)
    assert results[0]["path"] == "2019/Trips/trip_05.jpg"
    assert results[0]["abs_path"] == str(root / "2019/Trips/trip_05.jpg")
    assert results[0]["taken_at"] == "2019-07-06T12:00:00" and results[0]["width"] == 160
    assert [r["rank"] for r in results] == [1, 2, 3, 4]

    # By default only copies of a photo fold: this library has none, so the list is the same.
    assert main(["search", str(root), *model_args, "--image", str(query), "-k", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == results
    # With --fold-similar, similar shots fold under the better-ranked result too (random
    # tiny-CLIP weights make most photos look alike, so a lot folds here).
    assert main(["search", str(root), *model_args, "--image", str(query), "-k", "4", "--json", "--fold-similar"]) == 0
    collapsed = json.loads(capsys.readouterr().out)
    assert collapsed[0]["path"] == results[0]["path"] and len(collapsed) <= 4
    shown = [r["path"] for r in collapsed] + [f for r in collapsed for f in r["folded"]]
    assert len(shown) == len(set(shown)) > len(collapsed) and results[1]["path"] in shown


def test_search_filters_from_the_command_line(indexed, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model_args = indexed
    args = ["search", str(root), *model_args, "--photo", "2020/home_00.jpg", "-k", "20", "--json", "--no-collapse"]
    assert main([*args, "--folder", "2019/Trips", "--from", "2019-07-02", "--to", "2019-07-04"]) == 0
    paths = sorted(r["path"] for r in json.loads(capsys.readouterr().out))
    # --to is inclusive of the whole day.
    assert paths == ["2019/Trips/trip_01.jpg", "2019/Trips/trip_02.jpg", "2019/Trips/trip_03.jpg"]
    assert main(["search", str(root), *model_args, "--text", "dog on a beach", "-k", "3", "--no-collapse"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_status_json_lists_skipped_files_with_reasons(indexed, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model_args = indexed
    assert main(["status", str(root), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["indexed"] == len(LAYOUT) and status["pending"] == 0 and status["skipped_count"] == 1
    assert status["skipped"][0]["path"] == "broken.jpg" and "image" in status["skipped"][0]["reason"].lower()
    assert status["model"] == model_args[1]
    assert Path(status["data_dir"]).is_relative_to(data_dir)  # PHOTOSEARCH_DATA_DIR is honoured


def test_data_dir_flag_wins_and_nothing_is_written_in_the_library(tmp_path: Path, tiny_clip, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    name, weights, _ = tiny_clip
    root = make_library(tmp_path / "lib")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    target = tmp_path / "elsewhere"
    assert main(["index", str(root), "--model", name, "--weights", str(weights), "--data-dir", str(target), "-q"]) == 0
    assert list(target.glob("libraries/lib-*/catalog.sqlite"))
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_exit_codes(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["search", str(tmp_path)])  # no query given
    assert usage.value.code == 2
    assert "one of the arguments --image --photo --text --add --saved is required" in capsys.readouterr().err

    assert main(["index", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("photosearch: error:") and "does not exist" in err and "\n" not in err

    root = make_library(tmp_path / "lib")
    assert main(["search", str(root), "--image", str(root / "2020/home_00.jpg")]) == 1
    assert "Index the folder first" in capsys.readouterr().err

    assert main(["status", str(root), "--json"]) == 0 and json.loads(capsys.readouterr().out)["indexed"] == 0
    assert main(["index", str(root), "--model", "no-such-model"]) == 1
    assert "Unknown model 'no-such-model'" in capsys.readouterr().err



@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["search", "LIB", "--photo", "2020/home_00.jpg", "-k", "0"], "argument -k: 0 is not 1 or more"),
        (["search", "LIB", "--photo", "2020/home_00.jpg", "-k", "many"], "argument -k: 'many' is not a whole number"),
        (["index", "LIB", "--batch-size", "-1"], "argument --batch-size: -1 is not 1 or more"),
        (["index", "LIB", "--workers", "0"], "argument --workers: 0 is not 1 or more"),
        (["index", "LIB", "--commit-every", "0"], "argument --commit-every: 0 is not 1 or more"),
    ],
)
def test_counts_below_one_are_refused_before_anything_runs(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], command: list[str], said: str
) -> None:
    """A batch size of -1 once indexed nothing of a new photo, silently, and -k 0 answered
    "No photos match."."""
    with pytest.raises(SystemExit) as usage:
        main([str(tmp_path) if part == "LIB" else part for part in command])
    assert usage.value.code == 2 and said in capsys.readouterr().err


def test_a_csv_into_a_missing_folder_says_so_in_one_line(indexed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root, model_args = indexed
    target = tmp_path / "no-such-folder" / "results.csv"
    assert main(["search", str(root), *model_args, "--photo", "2020/home_00.jpg", "--csv", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"photosearch: error: Cannot write the CSV file {target}: the folder {target.parent} does not exist.")
    assert "\n" not in err and "partial" not in err and not target.parent.exists()


class _Left(Exception):
    """os._exit, as the test's stand-in records it."""


def test_the_command_leaves_at_once_while_a_thread_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """run(): with a thread still running (the model loading ahead of a query that failed),
    the process leaves through os._exit with main's code, its output flushed, not through the
    interpreter's shutdown, which aborted under a native load (exit 134 after the message)."""
    import photosearch_desktop.cli as cli_module

    left: list[int] = []

    def leave(code: int) -> None:
        left.append(code)
        raise _Left

    monkeypatch.setattr(cli_module, "main", lambda: 1)
    monkeypatch.setattr(cli_module.os, "_exit", leave)
    hold = threading.Event()
    loading = threading.Thread(target=hold.wait, name="model-ahead", daemon=True)
    loading.start()
    try:
        with pytest.raises(_Left):
            cli_module.run()
    finally:
        hold.set()
        loading.join()
    assert left == [1]


def test_ctrl_c_ends_a_command_with_one_line_and_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A search interrupted while it imported printed a KeyboardInterrupt traceback (exit 1)."""
    import photosearch_desktop.cli as cli_module

    def interrupted() -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "main", interrupted)
    monkeypatch.setattr(cli_module.threading, "enumerate", lambda: [threading.main_thread()])  # no thread left behind
    with pytest.raises(SystemExit) as left:
        cli_module.run()
    assert left.value.code == 130 and capsys.readouterr().err == "\nInterrupted.\n"
