"""The image loader on generated images in tmp_path: formats, orientation, colour modes,
sizes, and every way a file can fail to load (engine/media/loader.py)."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import imagegen as gen
import numpy as np
import PIL
import pytest
from loadcheck import close, load_err, load_ok
from PIL import Image, TiffImagePlugin

from photosearch_desktop.engine.errors import LoadError
from photosearch_desktop.engine.media import loader
from photosearch_desktop.engine.media.loader import DEFAULT_MAX_PIXELS, load_image, read_metadata

# Pillow warns about the malformed files these tests feed it on purpose.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


# --- plain images --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, suffix",
    [
        ("JPEG", ".jpg"),
        ("PNG", ".png"),
        ("WEBP", ".webp"),
        ("BMP", ".bmp"),
        ("TIFF", ".tif"),
        ("GIF", ".gif"),
        ("HEIF", ".heic"),
        ("AVIF", ".avif"),
    ],
)
def test_solid_colour_in_every_format(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"solid{suffix}"
    gen.solid(gen.GREEN, (64, 48)).save(path, fmt)
    result = load_ok(path)
    assert result.image.size == (64, 48)
    assert close(result.image.getpixel((32, 24)), gen.GREEN, 12)
    assert (result.meta.width, result.meta.height) == (64, 48)
    assert result.meta.format == fmt


def test_gradient_keeps_its_ramp(tmp_path: Path) -> None:
    path = tmp_path / "ramp.png"
    gen.gradient((256, 16)).save(path)
    row = np.asarray(load_ok(path).image)[8, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_jpeg(tmp_path: Path, orientation: int) -> None:
    upright = gen.quadrants((120, 80))
    path = gen.write_oriented_jpeg(tmp_path / f"o{orientation}.jpg", upright, orientation)
    with Image.open(path) as raw:
        stored_size = raw.size
    assert stored_size == ((80, 120) if orientation >= 5 else (120, 80))
    result = load_ok(path)
    assert result.image.size == (120, 80)
    assert (result.meta.width, result.meta.height) == (120, 80)
    for got, want in zip(gen.quadrant_colours(result.image), gen.QUADRANT_COLOURS, strict=True):
        assert close(got, want), (orientation, got, want)
    assert read_metadata(path).width == 120


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "AVIF"])
def test_exif_orientation_other_containers(tmp_path: Path, fmt: str) -> None:
    upright = gen.quadrants((120, 80))
    path = tmp_path / f"o6.{fmt.lower()}"
    gen.stored_for_orientation(upright, 6).save(
        path, fmt, exif=gen.make_exif(orientation=6).tobytes()
    )
    result = load_ok(path)
    assert result.image.size == (120, 80)
    assert all(
        close(g, w)
        for g, w in zip(gen.quadrant_colours(result.image), gen.QUADRANT_COLOURS, strict=True)
    )


def test_png_exif_after_pixel_data(tmp_path: Path) -> None:
    upright = gen.quadrants((120, 80))
    path = gen.write_png_late_exif(
        tmp_path / "late.png",
        gen.stored_for_orientation(upright, 8),
        gen.make_exif(orientation=8, make="Late"),
    )
    meta = read_metadata(path)
    assert (meta.width, meta.height, meta.camera_make) == (120, 80, "Late")
    result = load_ok(path)
    assert result.image.size == (120, 80)
    assert gen.quadrant_colours(result.image)[0] == gen.RED


@pytest.mark.parametrize(
    "exif_bytes",
    [b"Exif\x00\x00garbage-garbage", b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", b"\x00" * 40],
)
def test_malformed_exif_loads_without_rotation(tmp_path: Path, exif_bytes: bytes) -> None:
    path = tmp_path / "bad_exif.jpg"
    gen.quadrants((120, 80)).save(path, "JPEG", exif=exif_bytes)
    result = load_ok(path)
    assert result.image.size == (120, 80)
    assert result.meta.taken_source == "file-mtime"


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_out_of_range_orientation_is_ignored(tmp_path: Path, orientation: int) -> None:
    path = gen.write_jpeg(
        tmp_path / "o.jpg", gen.quadrants((120, 80)), exif=gen.make_exif(orientation=orientation)
    )
    assert load_ok(path).image.size == (120, 80)


# --- colour modes ---------------------------------------------------------------------------


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (40, 20), (255, 0, 0, 0))
    rgba.paste((0, 0, 0, 128), (20, 0, 40, 20))
    rgba.save(tmp_path / "rgba.png")
    im = load_ok(tmp_path / "rgba.png").image
    assert im.getpixel((5, 10)) == (255, 255, 255)  # transparent red -> white
    assert close(im.getpixel((30, 10)), (127, 127, 127), 3)  # half-transparent black -> grey

    Image.new("LA", (20, 20), (0, 0)).save(tmp_path / "la.png")
    assert load_ok(tmp_path / "la.png").image.getpixel((3, 3)) == (255, 255, 255)

    pal = Image.new("P", (20, 20), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.save(tmp_path / "p.png", transparency=1)
    pal.save(tmp_path / "p.gif", transparency=1)
    for name in ("p.png", "p.gif"):
        assert load_ok(tmp_path / name).image.getpixel((3, 3)) == (255, 255, 255), name

    Image.new("RGB", (20, 20), (10, 20, 30)).save(tmp_path / "trns.png", transparency=(10, 20, 30))
    assert load_ok(tmp_path / "trns.png").image.getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"cmyk.{fmt.lower()}"
    Image.new("CMYK", (32, 32), (255, 0, 0, 0)).save(path, fmt)  # pure cyan
    assert close(load_ok(path).image.getpixel((16, 16)), (0, 255, 255), 12)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_grey_is_scaled_not_clipped(tmp_path: Path, fmt: str) -> None:
    a = np.full((16, 64), 32768, dtype=np.uint16)
    a[:, 32:] = 65535
    path = tmp_path / f"g16.{fmt.lower()}"
    Image.fromarray(a).save(path, fmt)  # uint16 -> mode I;16
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")
    im = load_ok(path).image
    assert close(im.getpixel((5, 5)), (128, 128, 128), 2)
    assert im.getpixel((50, 5)) == (255, 255, 255)


def test_float_and_32bit_modes(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8), 0.5, dtype=np.float32)).save(tmp_path / "f.tif")
    assert close(load_ok(tmp_path / "f.tif").image.getpixel((2, 2)), (128, 128, 128), 2)
    Image.fromarray(np.full((8, 8), 32768, dtype=np.int32)).save(tmp_path / "i.tif")
    assert close(load_ok(tmp_path / "i.tif").image.getpixel((2, 2)), (128, 128, 128), 2)


@pytest.mark.parametrize(
    "mode, colour", [("1", 1), ("L", 200), ("YCbCr", (200, 128, 128)), ("LAB", (200, 128, 128))]
)
def test_other_modes(tmp_path: Path, mode: str, colour: object) -> None:
    if mode == "YCbCr" and int(PIL.__version__.split(".")[0]) < 13:
        pytest.skip("Pillow before 13 cannot read an uncompressed YCbCr TIFF (it says: truncated)")
    path = tmp_path / "m.tif"
    Image.new(mode, (8, 8), colour).save(path)  # type: ignore[arg-type]
    im = load_ok(path).image
    r, g, b = im.getpixel((4, 4))  # type: ignore[misc]
    assert abs(r - g) < 8 and abs(g - b) < 8 and r > 150  # light neutral grey / white


@pytest.mark.parametrize("suffix, fmt", [(".gif", "GIF"), (".png", "PNG"), (".webp", "WEBP")])
def test_animated_first_frame_only(tmp_path: Path, suffix: str, fmt: str) -> None:
    path = tmp_path / f"anim{suffix}"
    frames = [Image.new("RGB", (40, 30), c) for c in (gen.RED, gen.GREEN, gen.BLUE)]
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert close(load_ok(path).image.getpixel((20, 15)), gen.RED, 20)


# --- sizes ----------------------------------------------------------------------------------


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_jpeg_draft_decodes_small_and_fast(tmp_path: Path) -> None:
    path = gen.write_jpeg(tmp_path / "big.jpg", gen.noise((4000, 3000)), quality=85)
    small = load_ok(path, min_side=260)
    assert min(small.image.size) >= 260
    assert max(small.image.size) <= 1000
    assert (small.meta.width, small.meta.height) == (4000, 3000)
    t_draft = best_time(lambda: load_image(path, min_side=260))
    t_full = best_time(lambda: load_image(path))
    # Typically ~0.4 on noise (entropy decoding stays) but 0.6 was seen on a busy 2-core machine;
    # the sizes above show the draft path was taken, this only that it pays.
    assert t_draft < 0.8 * t_full, (t_draft, t_full)
    assert load_ok(path).image.size == (4000, 3000)


@pytest.fixture(scope="module")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.png"
    gen.noise((2000, 1500)).save(path, compress_level=1)
    return path


@pytest.mark.parametrize("min_side", [224, 260, 333])
def test_other_formats_are_downscaled_after_decode(big_png: Path, min_side: int) -> None:
    result = load_ok(big_png, min_side=min_side)
    assert min_side <= min(result.image.size) < 2 * min_side
    assert (result.meta.width, result.meta.height) == (2000, 1500)


def test_min_side_must_be_positive(big_png: Path) -> None:
    with pytest.raises(ValueError):
        load_image(big_png, min_side=0)


def test_draft_keeps_min_side_for_portrait_orientation(tmp_path: Path) -> None:
    path = gen.write_oriented_jpeg(tmp_path / "p.jpg", gen.noise((3000, 2000)), 6)
    im = load_ok(path, min_side=300).image
    assert im.width > im.height and min(im.size) >= 300


def test_very_thin_image_loads(tmp_path: Path) -> None:
    path = tmp_path / "thin.png"
    gen.gradient((1, 20000), vertical=True).save(path)
    assert load_ok(path, min_side=224).image.size == (1, 20000)


def test_pixel_limit_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    gen.solid(gen.RED, (400, 300)).save(path)
    err = load_err(path, max_pixels=100_000)
    assert err.code == "too-large" and "limit" in err.reason
    assert load_ok(path, max_pixels=120_000)


def test_default_limit_admits_big_camera_photos() -> None:
    assert 6720 * 4480 < DEFAULT_MAX_PIXELS


# --- errors ---------------------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    err = load_err(tmp_path / "empty.jpg")
    assert (err.code, err.reason) == ("empty", "Empty file (0 bytes)")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_jpeg_raises(tmp_path: Path, fraction: float) -> None:
    full = gen.write_jpeg(
        tmp_path / "full.jpg", gen.noise((800, 600)), exif=gen.make_exif(make="Cut")
    )
    cut = gen.truncated_copy(full, tmp_path / "cut.jpg", fraction)
    for min_side in (None, 224):
        err = load_err(cut, min_side=min_side)
        assert err.code == "truncated" and "truncated" in err.reason
    # The header is intact, so the preview can still show the metadata.
    assert read_metadata(cut).camera_make == "Cut"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "HEIF"])
def test_truncated_other_formats_raise(tmp_path: Path, fmt: str) -> None:
    full = tmp_path / f"full.{fmt.lower()}"
    gen.noise((400, 300)).save(full, fmt)
    err = load_err(gen.truncated_copy(full, tmp_path / "cut", 0.5))
    assert err.code in ("truncated", "corrupt")


@pytest.mark.parametrize("min_side", [None, 8])
def test_png_with_a_broken_data_stream_is_corrupt(tmp_path: Path, min_side: int | None) -> None:
    """Pillow's Tests/images/broken_data_stream.png, in small: its header is fine, a scanline
    is not. It was indexed as a photo: reading its EXIF made Pillow decode it (to look for an
    eXIf chunk after the pixels), the error was swallowed there, and the load() after it had
    nothing left to do and returned the half-decoded image."""
    path = gen.png_bad_filter(tmp_path / "broken_data_stream.png")
    with pytest.raises(OSError, match="unrecognized data stream contents"):
        Image.open(path).load()  # what Pillow itself says
    err = load_err(path, min_side=min_side)
    assert err.code == "corrupt" and "unrecognized data stream contents" in err.reason
    assert read_metadata(path).width == 16  # the header alone is fine, and read without decoding


@pytest.mark.parametrize("name", ["noise.jpg", "noise.png", "noise.heic"])
def test_random_bytes_are_not_an_image(tmp_path: Path, name: str) -> None:
    assert load_err(gen.random_bytes(tmp_path / name)).code == "not-an-image"


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("shopping list\n")
    assert load_err(tmp_path / "notes.jpg").code == "not-an-image"


@pytest.mark.parametrize("name", ["really_a_jpeg.heic", "really_a_jpeg.png", "really_a_jpeg.gif"])
def test_content_wins_over_extension(tmp_path: Path, name: str) -> None:
    path = gen.write_jpeg(tmp_path / name, gen.quadrants())
    result = load_ok(path)
    assert result.meta.format == "JPEG"


def test_damaged_header_with_known_signature_is_corrupt(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    err = load_err(tmp_path / "broken.png")
    assert err.code == "corrupt" and "PNG" in err.reason


@pytest.mark.parametrize("make_bomb", [gen.png_bomb, gen.gif_bomb])
def test_decompression_bomb_refused_quickly(
    tmp_path: Path, make_bomb: Callable[[Path], Path]
) -> None:
    path = make_bomb(tmp_path / "bomb")
    rss_before = _max_rss_mb()
    t = time.perf_counter()
    err = load_err(path)
    elapsed = time.perf_counter() - t
    assert err.code == "too-large" and "megapixels" in err.reason
    assert elapsed < 1.0
    assert _max_rss_mb() - rss_before < 200
    assert pytest.raises(LoadError, read_metadata, path).value.code == "too-large"


def test_bomb_just_over_our_limit_but_under_pillows(tmp_path: Path) -> None:
    path = gen.png_bomb(tmp_path / "b.png", 13_000, 12_000)  # 156 MP: Pillow itself only warns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        err = load_err(path)
    assert err.code == "too-large" and "156 megapixels (limit 150)" in err.reason


def test_gif_frame_far_outside_canvas_is_refused(tmp_path: Path) -> None:
    path = gen.gif_with_far_frame(tmp_path / "far.gif")
    t = time.perf_counter()
    err = load_err(path)
    assert time.perf_counter() - t < 1.0
    assert err.code == "too-large" and "frame" in err.reason


def test_gif_frame_slightly_outside_canvas_still_loads(tmp_path: Path) -> None:
    path = gen.gif_with_far_frame(tmp_path / "near.gif", x=20, y=10)
    assert close(load_ok(path).image.getpixel((50, 50)), gen.RED, 20)


def test_many_frame_gif_loads(tmp_path: Path) -> None:
    path = gen.write_animated_gif(
        tmp_path / "many.gif", [(i, 255 - i, 0) for i in range(0, 250, 2)]
    )
    assert load_ok(path).image.size == (40, 30)


def test_unreadable_file(tmp_path: Path) -> None:
    path = gen.write_jpeg(tmp_path / "secret.jpg", gen.quadrants())
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that read any file (root)")
        err = load_err(path)
        assert err.code == "unreadable" and "Permission denied" in err.reason
    finally:
        path.chmod(0o644)


def test_permission_error_is_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = gen.write_jpeg(tmp_path / "secret.jpg", gen.quadrants())
    real_open = os.open

    def deny(p, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(p) == path:
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    err = load_err(path)
    assert (err.code, err.reason) == (
        "unreadable",
        "Permission denied: the app cannot read this file",
    )


def test_vanished_file(tmp_path: Path) -> None:
    path = gen.write_jpeg(tmp_path / "gone.jpg", gen.quadrants())
    path.unlink()
    assert load_err(path).code == "vanished"
    assert pytest.raises(LoadError, read_metadata, path).value.code == "vanished"
    assert load_err(tmp_path / "missing_dir" / "x.jpg").code == "vanished"


def test_directory_and_fifo(tmp_path: Path) -> None:
    (tmp_path / "folder.jpg").mkdir()
    assert load_err(tmp_path / "folder.jpg").code == "unreadable"
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.jpg")
        assert load_err(tmp_path / "pipe.jpg").code == "unreadable"  # and does not hang


def test_camera_raw_is_refused(tmp_path: Path) -> None:
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[50706] = b"\x01\x04\x00\x00"  # DNGVersion
    ifd.tagtype[50706] = 1
    gen.solid(gen.RED).save(tmp_path / "camera.tif", "TIFF", tiffinfo=ifd)  # a DNG by content
    gen.write_jpeg(tmp_path / "camera.NEF", gen.quadrants())  # by extension
    for name in ("camera.tif", "camera.NEF"):
        err = load_err(tmp_path / name)
        assert (err.code, err.reason) == ("unsupported", "Camera RAW files are not supported")


@pytest.mark.parametrize(
    "name, head, kind",
    [
        ("a.ppm", b"P6\n4 4\n255\n" + b"\x00" * 48, "Netpbm"),
        ("a.psd", b"8BPS\x00\x01" + b"\x00" * 40, "Photoshop"),
        ("a.jxl", b"\xff\x0a" + b"\x00" * 40, "JPEG XL"),
        ("a.heic", b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 40, "Video"),
    ],
)
def test_known_but_unsupported_formats(tmp_path: Path, name: str, head: bytes, kind: str) -> None:
    (tmp_path / name).write_bytes(head)
    err = load_err(tmp_path / name)
    assert (err.code, err.reason) == ("unsupported", f"{kind} files are not supported")


def test_unexpected_exceptions_become_load_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = gen.write_jpeg(tmp_path / "a.jpg", gen.quadrants())

    def boom(im: Image.Image) -> Image.Image:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(loader, "_to_rgb", boom)
    err = load_err(path)
    assert (err.code, err.reason) == ("corrupt", "Could not decode the image: boom")


def test_concurrent_loads_agree(tmp_path: Path) -> None:
    paths = [
        gen.write_oriented_jpeg(tmp_path / f"{o}.jpg", gen.quadrants(), o) for o in range(1, 9)
    ]
    paths.append(gen.png_bomb(tmp_path / "bomb.png"))
    gen.noise((900, 700)).save(tmp_path / "n.webp")
    paths.append(tmp_path / "n.webp")

    def outcome(p: Path) -> object:
        try:
            return load_image(p, min_side=100).image.tobytes()
        except LoadError as e:
            return e.code

    expected = [outcome(p) for p in paths]
    results: list[list[object]] = []

    def worker() -> None:
        for _ in range(3):
            results.append([outcome(p) for p in paths])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 12


def _max_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
