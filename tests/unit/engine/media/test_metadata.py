"""Capture date, camera and GPS position from EXIF (engine/media/metadata.py, through the loader)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import imagegen as gen
import pytest
from loadcheck import load_ok

from photosearch_desktop.engine.media.loader import read_metadata
from photosearch_desktop.engine.media.metadata import parse_exif_datetime, parse_gps

# Pillow warns about the malformed files these tests feed it on purpose.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def test_date_original_preferred(tmp_path: Path) -> None:
    exif = gen.make_exif(datetime_original="2019:05:21 10:45:52", datetime_="2020:01:01 00:00:00")
    meta = load_ok(gen.write_jpeg(tmp_path / "a.jpg", gen.quadrants(), exif=exif)).meta
    assert (meta.taken_at, meta.taken_source) == (
        datetime(2019, 5, 21, 10, 45, 52),
        "exif-original",
    )


def test_datetime_then_mtime(tmp_path: Path) -> None:
    exif = gen.make_exif(datetime_="2020:01:02 03:04:05")
    meta = read_metadata(gen.write_jpeg(tmp_path / "a.jpg", gen.quadrants(), exif=exif))
    assert (meta.taken_at, meta.taken_source) == (datetime(2020, 1, 2, 3, 4, 5), "exif-datetime")

    path = gen.write_jpeg(tmp_path / "b.jpg", gen.quadrants())
    gen.set_mtime(path, datetime(2011, 6, 7, 8, 9, 10))
    meta = load_ok(path).meta
    assert (meta.taken_at, meta.taken_source) == (datetime(2011, 6, 7, 8, 9, 10), "file-mtime")


@pytest.mark.parametrize(
    "bad",
    [
        "0000:00:00 00:00:00",
        "garbage",
        "2019:13:45 10:00:00",
        "    :  :     :  :  ",
        "1601:01:01 00:00:00",
        "2999:01:01 00:00:00",
        "2019:02:30 10:00:00",
        "",
    ],
)
def test_malformed_dates_fall_through(tmp_path: Path, bad: str) -> None:
    exif = gen.make_exif(datetime_original=bad, datetime_="2020:01:02 03:04:05")
    meta = load_ok(gen.write_jpeg(tmp_path / "a.jpg", gen.quadrants(), exif=exif)).meta
    assert meta.taken_source == "exif-datetime"

    exif = gen.make_exif(datetime_original=bad, datetime_=bad)
    path = gen.write_jpeg(tmp_path / "b.jpg", gen.quadrants(), exif=exif)
    gen.set_mtime(path, datetime(2011, 6, 7, 8, 9, 10))
    meta = load_ok(path).meta
    assert (meta.taken_at, meta.taken_source) == (datetime(2011, 6, 7, 8, 9, 10), "file-mtime")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2019:05:21 10:45:52", datetime(2019, 5, 21, 10, 45, 52)),
        ("2019-05-21T10:45:52+02:00", datetime(2019, 5, 21, 10, 45, 52)),
        ("2019:05:21 10:45\x00", datetime(2019, 5, 21, 10, 45)),
        ("2019:05:21", datetime(2019, 5, 21)),
        (b"2016:12:31 23:59:60", datetime(2016, 12, 31, 23, 59, 59)),
        ("2019:05:21 25:00:00", None),
        (20190521, None),
    ],
)
def test_parse_exif_datetime(text: object, expected: datetime | None) -> None:
    assert parse_exif_datetime(text) == expected


def test_gps_and_camera_from_a_jpeg(tmp_path: Path) -> None:
    exif = gen.make_exif(
        make="Canon\x00\x00  ",
        model="  Canon EOS 40D\x00",
        gps=("S", (33, 51, 30.24), "W", (151, 12, 30)),
    )
    meta = load_ok(gen.write_jpeg(tmp_path / "a.jpg", gen.quadrants(), exif=exif)).meta
    assert (meta.camera_make, meta.camera_model) == ("Canon", "Canon EOS 40D")
    assert meta.gps_lat == pytest.approx(-(33 + 51 / 60 + 30.24 / 3600))
    assert meta.gps_lon == pytest.approx(-(151 + 12 / 60 + 30 / 3600))


@pytest.mark.parametrize(
    "gps, expected",
    [
        ({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}, (48.8567, 2.3508)),
        ({1: b"S\x00", 2: (33.5,), 3: "e", 4: (151.25,)}, (-33.5, 151.25)),
        ({2: (-33.5, 0, 0), 4: (151.25, 0, 0)}, (-33.5, 151.25)),  # no refs: signed values
        ({1: "N", 2: (float("nan"), 0, 0), 3: "E", 4: (2.0, 0, 0)}, None),  # 0/0 rational
        ({1: "X", 2: (48.0, 0, 0), 3: "E", 4: (2.0, 0, 0)}, None),
        ({1: "N", 2: (95.0, 0, 0), 3: "E", 4: (2.0, 0, 0)}, None),
        ({1: "N", 2: (48.0, 75.0, 0), 3: "E", 4: (2.0, 0, 0)}, None),
        ({1: "N", 2: "junk", 3: "E", 4: (2.0, 0, 0)}, None),
        ({1: "N", 2: (0, 0, 0), 3: "E", 4: (0, 0, 0)}, None),  # no fix
        ({1: "N", 2: (48.0, 0, 0)}, None),
    ],
)
def test_parse_gps(gps: dict[int, object], expected: tuple[float, float] | None) -> None:
    got = parse_gps(gps)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-4)


def test_heic_metadata(tmp_path: Path) -> None:
    exif = gen.make_exif(
        datetime_original="2022:02:16 12:55:41", make="Apple", model="iPhone 13 Pro Max"
    )
    path = tmp_path / "a.heic"
    gen.quadrants().save(path, "HEIF", exif=exif.tobytes())
    meta = load_ok(path).meta
    assert (meta.taken_at, meta.taken_source, meta.camera_model, meta.format) == (
        datetime(2022, 2, 16, 12, 55, 41),
        "exif-original",
        "iPhone 13 Pro Max",
        "HEIF",
    )
