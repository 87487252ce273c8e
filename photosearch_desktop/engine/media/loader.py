"""Turn one file into an upright RGB image for the model, or a :class:`LoadError` saying why not.

The format is recognised from the file's content, never from its name. Hostile or broken
files are refused from their headers before any pixel is decoded, and every failure
(including ones from the operating system) comes out as a :class:`LoadError` with a
machine code and a sentence for the user.

Thread-safe: several decode threads call :func:`load_image` at once, so nothing here
changes Pillow's global settings per call (plugins are registered once, at import).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from ..errors import LoadError
from ..records import LoadedImage, PhotoMeta
from ..system.longpaths import long_path
from .formats import RAW_EXTENSIONS, UNSUPPORTED_KINDS, sniff
from .metadata import exif_orientation, extract_meta, read_exif

log = logging.getLogger(__name__)

# 150 MP admits every camera and most stitched panoramas (a 6720x4480 photo is 30 MP) while
# bounding the decode at a few hundred MB. Pillow itself refuses anything over
# 2 * Image.MAX_IMAGE_PIXELS (~179 MP by default), so larger values have no effect.
DEFAULT_MAX_PIXELS = 150_000_000

# Register once, at import: HEIC/HEIF through libheif. AVIF uses Pillow's own plugin
# (Pillow >= 11.3); the libheif bundled with pillow-heif has no AVIF decoder.
pillow_heif.register_heif_opener()
Image.init()  # load every plugin now rather than lazily inside concurrent Image.open calls

# The formats a photo library holds. Pillow also reads many exotic formats (TGA, PCX, ...)
# whose loose signatures can make random bytes "open" as noise; those are not tried.
PHOTO_FORMATS: tuple[str, ...] = tuple(
    f
    for f in ("JPEG", "MPO", "PNG", "GIF", "WEBP", "TIFF", "BMP", "HEIF", "AVIF", "JPEG2000")
    if f in Image.OPEN
)

# Camera RAW is refused rather than indexed through whatever Pillow finds inside: most RAW
# containers are TIFF, and Pillow only sees IFD0, which is a thumbnail (160x120 to 256x171,
# sometimes none) or undemosaiced sensor data. Indexing that would give search results of
# uneven, often useless quality; a clear "not supported" is more honest. Camera makers
# also save a JPEG next to the RAW in most workflows, and that one is indexed.
_TIFF_TAG_DNG_VERSION = 50706
_RAW_REASON = "Camera RAW files are not supported"


_TRUNCATED_RE = re.compile(
    r"truncat|premature end|unexpected end|end of (?:file|data|stream)|not enough data",
    re.IGNORECASE,
)
_UNSUPPORTED_RE = re.compile(
    r"unsupported|not supported|decoder \S+ not available|unknown (?:compression|raw mode)",
    re.IGNORECASE,
)
_BOMB_PIXELS_RE = re.compile(r"\((\d+) pixels\)")

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WHITE = (255, 255, 255)

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class _Source:
    """An open file and what its first bytes say."""

    path: Path
    fh: BinaryIO
    mtime: float
    kind: str | None  # format guessed from the signature, for error wording
    riff_truncated: bool  # RIFF (WebP) header promises more bytes than the file has


def load_image(
    path: Path, min_side: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Decode ``path`` into an RGB image (first frame, upright, transparency on white).

    With ``min_side`` the result may be downscaled (JPEG already while decoding) as long as
    its shorter side stays >= ``min_side``; ``None`` keeps full resolution. ``meta``
    describes the full-resolution photo. Images over ``max_pixels`` are refused from
    their header. Raises :class:`LoadError` for anything wrong with the file, and
    ValueError only for a non-positive ``min_side`` (a caller bug).
    """
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be positive, not {min_side}")
    with _open_source(path) as src:
        try:
            return _decode(src, min_side, max_pixels)
        except LoadError:
            raise
        except Exception as e:
            raise _classify(e, src, max_pixels) from e


def load_preview(path: Path, max_side: int) -> LoadedImage:
    """The photo upright, no larger than ``max_side``, for display (thumbnails, a preview
    pane). Decoding is shrunk early for JPEGs, so big photos stay cheap."""
    loaded = load_image(path, min_side=max_side)  # shorter side >= max_side: sharp at any aspect
    image = loaded.image
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return LoadedImage(image, loaded.meta)


def read_metadata(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoMeta:
    """The photo's metadata from its header, without decoding pixels. Raises
    :class:`LoadError` for files :func:`load_image` would refuse from their header."""
    with _open_source(path) as src:
        try:
            with _open_checked(src, max_pixels) as im:
                return _read_meta(im, src.mtime)[0]
        except LoadError:
            raise
        except Exception as e:
            raise _classify(e, src, max_pixels) from e


def _decode(src: _Source, min_side: int | None, max_pixels: int) -> LoadedImage:
    # Not closed here: closing a Pillow image frees its pixels, and the decoded first frame
    # may be returned as is. The file itself is closed by _open_source.
    im = _open_checked(src, max_pixels)
    meta, orientation = _read_meta(im, src.mtime)
    if min_side and im.format in ("JPEG", "MPO") and min(im.size) >= 2 * min_side:
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding; both sides stay >= min_side.
        im.draft("RGB", (min_side, min_side))
    im.load()  # first frame only, whatever the frame count
    if orientation != 1 and exif_orientation(read_exif(im)) == 1:
        orientation = 1  # the decoder turned the pixels itself (Pillow's TIFF reader does)
    rgb = _to_rgb(im)
    if min_side and min(rgb.size) >= 2 * min_side:
        rgb = rgb.reduce(min(rgb.size) // min_side)
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    return LoadedImage(rgb, meta)


def _read_meta(im: Image.Image, mtime: float) -> tuple[PhotoMeta, int]:
    """Metadata and EXIF orientation, read from the header before any decoding."""
    exif = read_exif(im)
    orientation = exif_orientation(exif)
    w, h = im.size
    if orientation >= 5 and not _size_already_oriented(im):
        w, h = h, w
    return extract_meta(exif, (w, h), mtime, im.format), orientation


def _size_already_oriented(im: Image.Image) -> bool:
    """Pillow (13) reports a TIFF's size already turned by its Orientation tag."""
    tags = getattr(im, "tag_v2", None) if im.format == "TIFF" else None
    return tags is not None and (tags.get(256), tags.get(257)) != im.size


@contextmanager
def _open_source(path: Path) -> Iterator[_Source]:
    """Open the file once, mapping what the OS says to LoadError."""
    # O_NONBLOCK: a FIFO left in the library must not hang a decode thread in open().
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(long_path(path), flags)
    except OSError as e:
        raise _os_error(e) from e
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise LoadError("unreadable", "This is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise LoadError("unreadable", "Not a regular file (a device, pipe or socket)")
        fh = os.fdopen(fd, "rb")
    except OSError as e:
        os.close(fd)
        raise _os_error(e) from e
    except BaseException:
        os.close(fd)
        raise
    with fh:
        try:
            head = fh.read(32)
            fh.seek(0)
        except OSError as e:
            raise _os_error(e) from e
        if st.st_size == 0 or not head:
            raise LoadError("empty", "Empty file (0 bytes)")
        kind = sniff(head)
        if kind == "RAW" or Path(path).suffix.lower().lstrip('.') in RAW_EXTENSIONS:
            raise LoadError("unsupported", _RAW_REASON)
        if kind in UNSUPPORTED_KINDS:
            raise LoadError("unsupported", f"{kind} files are not supported")
        riff_truncated = (
            head[:4] == b"RIFF" and int.from_bytes(head[4:8], "little") + 8 > st.st_size
        )
        yield _Source(Path(path), fh, st.st_mtime, kind, riff_truncated)


def _open_checked(src: _Source, max_pixels: int) -> Image.Image:
    """Image.open on the source, refusing bombs and RAW before any pixel is decoded."""
    im = Image.open(src.fh, formats=PHOTO_FORMATS)  # may raise DecompressionBombError
    try:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise LoadError("corrupt", f"The image header gives an impossible size ({w}x{h})")
        if w * h > max_pixels:
            raise _too_large(w * h, max_pixels)
        if im.format == "GIF":
            _check_gif_frames(src.fh, max_pixels)
        if im.format == "TIFF" and _TIFF_TAG_DNG_VERSION in getattr(im, "tag_v2", {}):
            raise LoadError("unsupported", _RAW_REASON)
    except BaseException:
        im.close()
        raise
    return im


def _check_gif_frames(fh: BinaryIO, max_pixels: int) -> None:
    """Refuse a GIF whose frame descriptors would grow the canvas past the pixel limit.

    Pillow enlarges a GIF's canvas to fit any frame that extends past the logical screen,
    so a 100x100 GIF can carry a later frame at (65535, 65535) that makes every viewer
    that plays it allocate gigapixels. Only the descriptors are read: the compressed data
    is skipped block by block, so the cost is one pass over the file's bytes.
    """
    pos = fh.tell()
    fh.seek(0)
    data = fh.read()
    fh.seek(pos)
    n = len(data)
    if n < 13:
        return
    screen_w, screen_h = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    width, height = screen_w, screen_h
    i = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while i < n:
        block = data[i]
        if block == 0x2C:  # image descriptor: x, y, width, height (little-endian), flags
            if i + 10 > n:
                return
            x, y, frame_w, frame_h = (
                int.from_bytes(data[i + k : i + k + 2], "little") for k in (1, 3, 5, 7)
            )
            width, height = max(width, x + frame_w), max(height, y + frame_h)
            if width * height > max_pixels:
                raise LoadError(
                    "too-large",
                    f"A frame of this GIF lies outside its {screen_w}x{screen_h} canvas and "
                    f"would grow it to {width:,}x{height:,} pixels "
                    f"({_megapixels(width * height)}, limit {_megapixels(max_pixels)}) — "
                    "refused as malformed or a possible decompression bomb",
                )
            flags = data[i + 9]
            # Skip the descriptor, its local colour table and the LZW code size byte.
            i += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
        elif block == 0x21:  # extension: introducer and label, then sub-blocks
            i += 2
        else:
            return  # trailer (0x3B) or bytes that are no longer GIF structure
        # Skip data sub-blocks: a length byte, that many bytes; a zero length ends them.
        while i < n and data[i]:
            i += data[i] + 1
        i += 1


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB, transparency composited on white."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return _to_8bit(im).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = (im.convert("LA") if mode == "La" else im).convert("RGBA")
        out = Image.new("RGB", rgba.size, _WHITE)
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    # CMYK (Adobe's inverted JPEGs are already fixed by the decoder), L, 1, P, YCbCr, LAB, HSV.
    return im.convert("RGB")


def _to_8bit(im: Image.Image) -> Image.Image:
    """High bit depth greyscale -> L by scaling (Pillow's own conversion clips at 255)."""
    a = np.asarray(im)
    if im.mode in _SIXTEEN_BIT_MODES:
        return Image.fromarray((a >> 8).astype(np.uint8), "L")
    lo, hi = float(a.min()), float(a.max())
    if im.mode == "F" and lo >= 0.0 and hi <= 1.0:
        scale, offset = 255.0, 0.0  # normalised floats
    elif lo >= 0.0 and hi <= 65535.0:
        scale, offset = 255.0 / 65535.0, 0.0  # 16-bit data held in a 32-bit mode
    elif hi > lo:
        scale, offset = 255.0 / (hi - lo), lo  # anything else: stretch its range
    else:
        scale, offset = 0.0, 0.0
    out = (a.astype(np.float32) - offset) * scale
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "L")


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:,.0f} megapixels" if mp >= 10 else f"{mp:,.1f} megapixels"


def _too_large(pixels: int, limit: int) -> LoadError:
    return LoadError(
        "too-large",
        f"Image is too large: {_megapixels(pixels)} (limit {limit / 1e6:,.0f}) — refused as a "
        "possible decompression bomb",
    )


def _os_error(e: OSError) -> LoadError:
    if isinstance(e, (FileNotFoundError, NotADirectoryError)):
        return LoadError("vanished", "The file is gone: it was moved or deleted after the scan")
    if isinstance(e, PermissionError):
        return LoadError("unreadable", "Permission denied: the app cannot read this file")
    if isinstance(e, IsADirectoryError):
        return LoadError("unreadable", "This is a folder, not a file")
    return LoadError("unreadable", f"The file could not be read: {e.strerror or e}")


def _classify(e: Exception, src: _Source, max_pixels: int) -> LoadError:
    """Map whatever a decoder raised to a LoadError."""
    log.debug("cannot load %s: %s: %s", src.path, type(e).__name__, e)
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        match = _BOMB_PIXELS_RE.search(str(e))
        if match:
            return _too_large(int(match[1]), max_pixels)
        return LoadError(
            "too-large", "Image is too large — refused as a possible decompression bomb"
        )
    if isinstance(e, MemoryError):
        return LoadError("too-large", "Not enough memory to decode this image")
    if isinstance(e, OSError) and e.errno is not None:
        return _os_error(e)  # a real I/O error while reading, not a decoder complaint
    message = _short(e)
    if src.riff_truncated or _TRUNCATED_RE.search(message):
        return LoadError(
            "truncated",
            "The image data is truncated — the file was probably cut off while copying",
        )
    if isinstance(e, UnidentifiedImageError):
        if src.kind is None:
            return LoadError(
                "not-an-image", "Not an image: the content is not a known image format"
            )
        return LoadError(
            "corrupt",
            f"The file looks like a {src.kind} image but its header is damaged or incomplete",
        )
    if _UNSUPPORTED_RE.search(message):
        return LoadError(
            "unsupported", f"This image uses a variant the app cannot decode: {message}"
        )
    return LoadError("corrupt", f"Could not decode the image: {message}")


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= 120 else text[:117] + "..."
