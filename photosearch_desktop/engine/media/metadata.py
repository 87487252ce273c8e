"""Capture date, camera and GPS position from a photo's EXIF, without touching its pixels.

Everything here is defensive: EXIF written by cameras, phones and editors is often
malformed, and a bad tag must never stop a photo from being indexed. Failures are logged
at debug level and the field is left empty (or the next date source is used).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

from PIL import ExifTags, Image

from ..records import PhotoMeta

log = logging.getLogger(__name__)

_EXIF_IFD = ExifTags.IFD.Exif
_GPS_IFD = ExifTags.IFD.GPSInfo
_TAG_ORIENTATION = ExifTags.Base.Orientation
_TAG_DATETIME = ExifTags.Base.DateTime  # 0x0132, IFD0: last modification by camera/software
_TAG_DATETIME_ORIGINAL = ExifTags.Base.DateTimeOriginal  # 0x9003, Exif IFD: shutter press
_TAG_MAKE = ExifTags.Base.Make
_TAG_MODEL = ExifTags.Base.Model
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

# "2019:05:21 10:45:52" is the standard; also seen: "-" or "/" separators, "T", no seconds,
# a date alone, trailing sub-seconds or time zone (ignored: taken_at is naive local time).
_DATE_RE = re.compile(
    r"^\s*(\d{4})[:\-/.](\d{1,2})[:\-/.](\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?"
)
# The first photograph is from the 1820s; anything earlier is a broken clock or garbage.
_MIN_YEAR = 1826
_MAX_TEXT = 64


def read_exif(im: Image.Image) -> Image.Exif | None:
    """The image's EXIF (JPEG APP1, PNG eXIf/zTXt, WebP, TIFF tags, HEIF, AVIF, XMP
    orientation), or None when it is missing or unreadable. Never raises, never decodes
    pixels: call it before ``load()``, which releases the file TIFF tags are read from."""
    try:
        if im.format == "PNG" and "exif" not in im.info:
            # Pillow decodes the whole PNG to look for an eXIf chunk after the pixel data;
            # walking the chunk headers finds it without decoding.
            late = _png_exif_chunk(getattr(im, "fp", None))
            if late is None:
                # None there: PngImageFile.getexif would still decode all the pixels to look
                # for it, and a damaged image's decode error was swallowed below, leaving the
                # caller's load() nothing to do but return the half-decoded pixels as a photo.
                # The base class reads the EXIF and XMP the header's chunks gave, undecoded.
                return Image.Image.getexif(im)
            im.info["exif"] = late
        return im.getexif()
    except Exception as e:  # malformed EXIF takes many shapes (struct, Value, Type errors...)
        log.debug("unreadable EXIF: %s: %s", type(e).__name__, e)
        return None


def _png_exif_chunk(fp: IO[bytes] | None) -> bytes | None:
    if fp is None:
        return None
    pos = fp.tell()
    try:
        fp.seek(8)  # after the signature
        while len(header := fp.read(8)) == 8:
            length, kind = int.from_bytes(header[:4], "big"), header[4:]
            if kind == b"eXIf":
                data = fp.read(length)
                return data if len(data) == length else None
            if kind == b"IEND":
                break
            fp.seek(length + 4, 1)  # data and CRC
        return None
    finally:
        fp.seek(pos)


def exif_orientation(exif: Mapping[int, Any] | None) -> int:
    """EXIF orientation 1..8; anything missing or out of range counts as 1 (upright)."""
    if exif is None:
        return 1
    try:
        value = exif.get(_TAG_ORIENTATION, 1)
    except Exception as e:
        log.debug("unreadable orientation: %s", e)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def extract_meta(
    exif: Image.Exif | None,
    oriented_size: tuple[int, int],
    mtime: float | None = None,
    fmt: str | None = None,
) -> PhotoMeta:
    """Build the photo's :class:`PhotoMeta`.

    ``oriented_size`` is the full-resolution size after EXIF orientation; ``mtime`` (seconds
    since the epoch) is the fallback capture date; ``fmt`` is the decoder's format name.
    """
    taken_at, source = _capture_date(exif)
    if taken_at is None:
        taken_at, source = _from_mtime(mtime), "file-mtime"
    make = model = None
    lat = lon = None
    if exif is not None:
        make = _clean_text(_safe_get(exif, _TAG_MAKE))
        model = _clean_text(_safe_get(exif, _TAG_MODEL))
        gps = _safe_ifd(exif, _GPS_IFD)
        if gps:
            lat, lon = parse_gps(gps) or (None, None)
    width, height = oriented_size
    return PhotoMeta(
        width=width,
        height=height,
        taken_at=taken_at,
        taken_source=source,
        camera_make=make,
        camera_model=model,
        gps_lat=lat,
        gps_lon=lon,
        format=fmt,
    )


def parse_exif_datetime(value: object) -> datetime | None:
    """An EXIF date string as a naive datetime, or None when it is blank or impossible
    ("0000:00:00 00:00:00", month 13, year 1601 or far in the future, garbage)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    match = _DATE_RE.match(value.replace("\x00", ""))
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if not _MIN_YEAR <= year <= datetime.now().year + 1:
        return None
    try:
        # A leap second (":60") is valid EXIF but not a valid datetime.
        return datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None


def parse_gps(gps: Mapping[int, Any]) -> tuple[float, float] | None:
    """Signed decimal (latitude, longitude) from a GPS IFD, or None when absent or invalid."""
    lat = _gps_coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "NS", 90.0)
    lon = _gps_coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "EW", 180.0)
    if lat is None or lon is None:
        return None
    if lat == 0.0 and lon == 0.0:
        return None  # what many cameras write when they had no fix
    return lat, lon


def _capture_date(exif: Image.Exif | None) -> tuple[datetime | None, str]:
    if exif is None:
        return None, "file-mtime"
    exif_ifd = _safe_ifd(exif, _EXIF_IFD)
    # Some writers put DateTimeOriginal in IFD0 instead of the Exif IFD.
    for value in (exif_ifd.get(_TAG_DATETIME_ORIGINAL), _safe_get(exif, _TAG_DATETIME_ORIGINAL)):
        if (taken := parse_exif_datetime(value)) is not None:
            return taken, "exif-original"
    if (taken := parse_exif_datetime(_safe_get(exif, _TAG_DATETIME))) is not None:
        return taken, "exif-datetime"
    return None, "file-mtime"


def _from_mtime(mtime: float | None) -> datetime | None:
    if mtime is None:
        return None
    try:
        return datetime.fromtimestamp(mtime)
    except (OverflowError, OSError, ValueError):  # absurd timestamps on some file systems
        return None


def _gps_coordinate(value: object, ref: object, refs: str, limit: float) -> float | None:
    try:
        parts = [float(v) for v in value] if isinstance(value, (tuple, list)) else [float(value)]  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not 1 <= len(parts) <= 3 or not all(math.isfinite(p) for p in parts):
        return None
    degrees, minutes, seconds = (parts + [0.0, 0.0])[:3]
    if not (0 <= minutes <= 60 and 0 <= seconds <= 60):
        return None
    magnitude = abs(degrees) + minutes / 60 + seconds / 3600
    ref_text = _clean_text(ref)
    if ref_text is None:
        # No reference: trust the sign of the degrees (some writers store signed values).
        sign = -1.0 if degrees < 0 else 1.0
    elif ref_text[0].upper() in refs:
        sign = 1.0 if ref_text[0].upper() == refs[0] else -1.0
    else:
        return None
    return sign * magnitude if magnitude <= limit else None


def _clean_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:_MAX_TEXT].rstrip() or None


def _safe_get(exif: Image.Exif, tag: int) -> object:
    try:
        return exif.get(tag)
    except Exception as e:
        log.debug("unreadable EXIF tag 0x%04x: %s", tag, e)
        return None


def _safe_ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(tag)
    except Exception as e:
        log.debug("unreadable EXIF IFD 0x%04x: %s", tag, e)
        return {}
