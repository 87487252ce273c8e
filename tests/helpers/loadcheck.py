"""Loading one image for the loader and metadata tests: the result checked as every caller
needs it (an RGB image, or a LoadError with a reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from photosearch_desktop.engine.media.loader import LoadedImage, LoadError, load_image


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def load_ok(path: Path, **kw: object) -> LoadedImage:
    result = load_image(path, **kw)  # type: ignore[arg-type]
    assert result.image.mode == "RGB"
    assert result.image.width > 0 and result.image.height > 0
    return result


def load_err(path: Path, **kw: object) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_image(path, **kw)  # type: ignore[arg-type]
    err = info.value
    assert err.reason and str(err) == err.reason
    return err
