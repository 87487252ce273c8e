"""What image files look like: their first bytes, shared by the scanner and the loader."""

from __future__ import annotations

import re

# Readable names for first bytes, used to word errors ("looks like a PNG but...") and to
# spot RAW containers and well-known formats the app does not read.
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"WEBP", 8, "WebP"),
    (b"FUJIFILMCCD-RAW", 0, "RAW"),
    (b"IIRO", 0, "RAW"),  # Olympus ORF
    (b"IIRS", 0, "RAW"),  # Olympus ORF
    (b"IIU\x00", 0, "RAW"),  # Panasonic RW2
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"II+\x00", 0, "TIFF"),
    (b"MM\x00+", 0, "TIFF"),
    (b"BM", 0, "BMP"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
    (b"8BPS", 0, "Photoshop"),
    (b"%PDF", 0, "PDF"),
)
# ISO base media files ("....ftyp<brand>") are told apart by their major brand.
FTYP_BRANDS = {
    **dict.fromkeys(
        (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"), "HEIF"
    ),
    **dict.fromkeys((b"avif", b"avis"), "AVIF"),
    b"crx ": "RAW",  # Canon CR3
    **dict.fromkeys(
        (b"qt  ", b"isom", b"iso2", b"mp41", b"mp42", b"M4V ", b"3gp4", b"3gp5"), "Video"
    ),
}
# Formats recognised by their signature that the app deliberately does not decode.
UNSUPPORTED_KINDS = frozenset({"JPEG XL", "Photoshop", "PDF", "Video", "Netpbm"})
NETPBM_RE = re.compile(rb"P[1-7]\s")

# Camera RAW extensions: listed by the scanner so RAW-only shoots are reported, not missed.
RAW_EXTENSIONS = frozenset(
    "3fr ari arw cr2 cr3 crw dcr dng erf iiq k25 kdc mef mos mrw nef nrw "
    "orf pef raf rw2 rwl sr2 srf srw x3f".split()
)

# Kinds that are no photo at all: a file without an image extension is not a candidate.
NOT_PHOTOS = frozenset({"PDF", "Video"})


def sniff(head: bytes) -> str | None:
    """The kind of file the first 32 bytes announce ("JPEG", "HEIF", "RAW", "Video"...), or None."""
    if head[4:8] == b"ftyp":
        return FTYP_BRANDS.get(head[8:12])
    if head[:4] == b"II*\x00" and head[8:10] == b"CR":
        return "RAW"  # Canon CR2: a TIFF header followed by "CR"
    if NETPBM_RE.match(head):
        return "Netpbm"
    for magic, offset, kind in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return None
