"""Small generated test images: solid colours, gradients, an orientation pattern, EXIF JPEGs,
animated GIFs and hostile files (bombs, truncations, random bytes). Everything is
deterministic and written only where the caller says (normally pytest's ``tmp_path``)."""

from __future__ import annotations

import os
import random
import struct
import zlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

RED = (220, 30, 30)
GREEN = (30, 200, 30)
BLUE = (30, 30, 220)
YELLOW = (230, 220, 30)
# Quadrant colours of the orientation pattern, clockwise from the top left.
QUADRANT_COLOURS = (RED, GREEN, YELLOW, BLUE)

# For each EXIF orientation, the transform that turns the upright picture into the pixels a
# camera stores (the inverse of what the viewer applies).
_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def solid(
    colour: tuple[int, ...] | int, size: tuple[int, int] = (64, 48), mode: str = "RGB"
) -> Image.Image:
    return Image.new(mode, size, colour)


def gradient(size: tuple[int, int] = (256, 64), vertical: bool = False) -> Image.Image:
    """Grey ramp from black to white, left to right (or top to bottom)."""
    w, h = size
    ramp = np.linspace(0, 255, h if vertical else w, dtype=np.float32).round().astype(np.uint8)
    a = np.repeat(ramp[:, None], w, axis=1) if vertical else np.repeat(ramp[None, :], h, axis=0)
    return Image.fromarray(a, "L").convert("RGB")


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Smooth-ish colour noise: compresses like a photo rather than like a flat colour."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(1, size[1] // 8), max(1, size[0] // 8), 3), dtype=np.uint8)
    return Image.fromarray(small, "RGB").resize(size, Image.Resampling.BILINEAR)


def quadrants(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """Upright reference: red, green / blue, yellow quadrants (no symmetry survives a
    rotation or flip, so each EXIF orientation gives a different stored picture)."""
    w, h = size
    im = Image.new("RGB", size)
    tl, tr, br, bl = QUADRANT_COLOURS
    im.paste(tl, (0, 0, w // 2, h // 2))
    im.paste(tr, (w // 2, 0, w, h // 2))
    im.paste(bl, (0, h // 2, w // 2, h))
    im.paste(br, (w // 2, h // 2, w, h))
    return im


def quadrant_colours(im: Image.Image) -> tuple[tuple[int, ...], ...]:
    """Colours at the centres of the four quadrants, clockwise from the top left."""
    w, h = im.size
    points = (
        (w // 4, h // 4),
        (3 * w // 4, h // 4),
        (3 * w // 4, 3 * h // 4),
        (w // 4, 3 * h // 4),
    )
    rgb = im.convert("RGB")
    return tuple(rgb.getpixel(p) for p in points)  # type: ignore[misc]


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera would store for ``upright`` when tagging ``orientation``."""
    method = _STORE[orientation]
    return upright.copy() if method is None else upright.transpose(method)


def make_exif(
    *,
    orientation: int | None = None,
    datetime_original: str | None = None,
    datetime_: str | None = None,
    make: str | None = None,
    model: str | None = None,
    gps: tuple[object, object, object, object] | None = None,
) -> Image.Exif:
    """An EXIF block. Dates are raw strings so malformed ones can be written; ``gps`` is
    (lat ref, lat, lon ref, lon) as stored, e.g. ("S", (33, 51, 30.24), "E", (151, 12, 30))."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if datetime_ is not None:
        exif[ExifTags.Base.DateTime] = datetime_
    if make is not None:
        exif[ExifTags.Base.Make] = make
    if model is not None:
        exif[ExifTags.Base.Model] = model
    if datetime_original is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = datetime_original
    if gps is not None:
        lat_ref, lat, lon_ref, lon = gps
        exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: lat_ref, 2: lat, 3: lon_ref, 4: lon})
    return exif


def write_jpeg(
    path: Path, im: Image.Image, *, quality: int = 90, exif: Image.Exif | None = None
) -> Path:
    im.save(path, "JPEG", quality=quality, exif=exif.tobytes() if exif is not None else b"")
    return path


def write_oriented_jpeg(path: Path, upright: Image.Image, orientation: int) -> Path:
    """A JPEG whose stored pixels are ``upright`` transformed for ``orientation``, tagged so."""
    return write_jpeg(
        path,
        stored_for_orientation(upright, orientation),
        quality=95,
        exif=make_exif(orientation=orientation),
    )


def write_animated_gif(
    path: Path, colours: Sequence[tuple[int, int, int]], size: tuple[int, int] = (40, 30)
) -> Path:
    frames = [Image.new("RGB", size, c) for c in colours]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def set_mtime(path: Path, when: datetime) -> None:
    ts = when.timestamp()
    os.utime(path, (ts, ts))


def png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A valid PNG header (signature, IHDR with correct CRC, empty IDAT, IEND) claiming a
    huge size: a few dozen bytes that would need gigabytes to decode."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return path


def png_bad_filter(path: Path, width: int = 16, height: int = 16, bad_row: int = 8) -> Path:
    """A PNG whose zlib stream is sound but one scanline names filter type 5 (there are 0-4),
    as Pillow's own Tests/images/broken_data_stream.png does: Pillow's load() raises
    "unrecognized data stream contents" there, after the rows before it decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join((b"\x05" if y == bad_row else b"\x00") + bytes([y * 8 % 256, 128, 64]) * width
                    for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def gif_bomb(path: Path, width: int = 65_000, height: int = 65_000) -> Path:
    """A GIF whose logical screen and only frame claim ``width`` x ``height``."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00"
    path.write_bytes(header + frame + b";")
    return path


def gif_with_far_frame(path: Path, x: int = 65_000, y: int = 65_000) -> Path:
    """A 100x100 animated GIF whose second frame is placed at (x, y), far outside the canvas."""
    write_animated_gif(path, [RED, BLUE], size=(100, 100))
    data = bytearray(path.read_bytes())
    descriptors = [
        i
        for i in range(len(data))
        if data[i] == 0x2C and data[i + 5 : i + 9] == struct.pack("<HH", 100, 100)
    ]
    second = descriptors[1]
    data[second + 1 : second + 5] = struct.pack("<HH", x, y)
    path.write_bytes(bytes(data))
    return path


def truncated_copy(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def random_bytes(path: Path, size: int = 4096, seed: int = 0) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def write_png_late_exif(path: Path, im: Image.Image, exif: Image.Exif) -> Path:
    """A PNG whose eXIf chunk comes after the pixel data (as some tools write it), which
    Pillow only finds after decoding."""
    im.save(path, "PNG", exif=exif.tobytes())
    data = path.read_bytes()
    chunks, i = [], 8
    while i < len(data):
        length = struct.unpack(">I", data[i : i + 4])[0]
        chunks.append(data[i : i + 12 + length])
        i += 12 + length
    exif_chunks = [c for c in chunks if c[4:8] == b"eXIf"]
    others = [c for c in chunks if c[4:8] != b"eXIf"]
    path.write_bytes(data[:8] + b"".join(others[:-1] + exif_chunks + others[-1:]))  # before IEND
    return path
