"""The image loader over the shared messy-dev corpus (real-world odd files), when present:
the manifest's verdicts, and orientation groups that must look alike."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from loadcheck import load_ok
from shareddata import SHARED

from photosearch_desktop.engine.errors import LoadError
from photosearch_desktop.engine.media.loader import load_image, read_metadata

MESSY = SHARED / "data" / "messy-dev"

# Pillow warns about the malformed files these tests feed it on purpose.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


needs_messy = pytest.mark.skipif(
    not (MESSY / "manifest.csv").is_file(), reason="shared messy-dev data absent"
)


def _manifest() -> list[dict[str, str]]:
    with open(MESSY / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@needs_messy
@pytest.mark.parametrize("min_side", [None, 224])
def test_messy_dev_manifest(min_side: int | None) -> None:
    files = MESSY / "files"
    before = _snapshot(files)
    failures = []
    for row in _manifest():
        path, expected = files / row["filename"], row["expected_indexable"]
        if expected == "ignored" or not path.exists():
            continue  # the scanner skips ignored files; the other half of the corpus is elsewhere
        try:
            result = load_image(path, min_side=min_side)
        except LoadError as e:
            if expected == "yes":
                failures.append(f"{row['filename']}: refused ({e.code}: {e.reason})")
            assert e.reason
            continue
        if expected == "no":
            failures.append(f"{row['filename']}: loaded but the manifest expects a refusal")
        elif result.image.mode != "RGB" or min(result.image.size) <= 0:
            failures.append(
                f"{row['filename']}: bad result {result.image.mode} {result.image.size}"
            )
        else:
            meta = read_metadata(path)
            if (meta.width, meta.height) != (result.meta.width, result.meta.height):
                failures.append(f"{row['filename']}: read_metadata disagrees on the size")
    assert not failures, "\n".join(failures)
    assert _snapshot(files) == before  # the library is read only


@needs_messy
@pytest.mark.parametrize(
    "group",
    [
        [f"recurser_Landscape_{i}.jpg" for i in (0, 2, 4, 6, 8)],
        [f"recurser_Portrait_{i}.jpg" for i in (1, 3, 5, 7)],
        [f"ianare_landscape_{i}.jpg" for i in (2, 4, 6, 8)],
        [f"hopper_orientation_{i}.webp" for i in range(2, 9)],
        ["g4_orientation_3.tif", "g4_orientation_8.tif"],
    ],
)
def test_messy_dev_orientations_agree(group: list[str]) -> None:
    folder = MESSY / "files" / "orientation"
    paths = [folder / name for name in group if (folder / name).exists()]
    if len(paths) < 2:
        pytest.skip("orientation samples absent")
    pictures = [
        np.asarray(load_ok(p, min_side=64).image.resize((48, 48)), dtype=np.float32) for p in paths
    ]
    for path, picture in zip(paths[1:], pictures[1:], strict=True):
        assert np.abs(picture - pictures[0]).mean() < 10, path.name  # a wrong turn gives > 30
