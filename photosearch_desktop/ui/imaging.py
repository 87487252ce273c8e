"""Image conversions between Pillow and Qt, and decoding for display (worker threads only).

``QImage`` is safe to build and use outside the GUI thread (``QPixmap`` is not), so workers
hand finished ``QImage`` objects to the window, which only turns them into pixmaps.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtGui import QImage


def pil_to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: ``data`` is freed when this function returns


def qimage_to_pil(image: QImage) -> Image.Image:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    raw = bytes(rgb.constBits())[: rgb.bytesPerLine() * rgb.height()]
    return Image.frombuffer("RGB", (rgb.width(), rgb.height()), raw, "raw", "RGB", rgb.bytesPerLine(), 1)


def load_for_display(path: Path, max_side: int) -> tuple[Image.Image, object]:
    """The photo upright (EXIF orientation applied), no larger than ``max_side``, and its
    metadata. Decoding is shrunk early for JPEGs, so big photos stay cheap."""
    from ..engine.library import load_preview

    loaded = load_preview(path, max_side)
    return loaded.image, loaded.meta


def scaled_qimage(image: QImage, max_side: int) -> QImage:
    from PySide6.QtCore import Qt

    if max(image.width(), image.height()) <= max_side:
        return image
    return image.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
