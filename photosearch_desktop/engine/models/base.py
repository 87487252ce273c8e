"""The one interface every image model implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from PIL import Image

from ..errors import Action, TextNotSupported, hint


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class Embedder(ABC):
    """Turns images (and, if ``supports_text``, text) into L2-normalised float32 vectors.

    ``preprocess`` is pure PIL/NumPy and thread-safe, so the indexing pipeline runs it in its
    decode threads; ``encode_arrays`` runs the network on a stacked batch.
    """

    # One of the picklable transforms of .preprocess: RGB image -> float32 (3, S, S).
    preprocessor: Callable[[Image.Image], np.ndarray]

    name: str  # registry name, e.g. "efficientnet-lite2"
    identity: str  # exact weights the vectors come from; vectors of two identities never mix
    dim: int
    supports_text: bool = False
    input_size: int  # square side the network sees; the loader decodes JPEGs no smaller
    device: str = "cpu"
    runtime: str = "torch"  # what runs the network: "torch" or "onnx" (ONNX Runtime)
    # Photos per batch on a CPU, where each core runs its own stream: past this the activations
    # outgrow the cache and each photo costs more, not less. efficientnet-lite2's depthwise
    # convolutions are memory-bound (one core: 52 ms/photo at batch 4, 107 at batch 32); CLIP
    # ViT-B/32 at 256 px, two streams on ONNX Runtime: 500 photos indexed in 46.0 s at batch 4
    # against 48.0 s at 16 (3 runs each, alternating, 2 cores).
    cpu_batch_size: int = 4

    @property
    def alive(self) -> bool:
        """False once the model can no longer run (its process stopped) and must be loaded again."""
        return True

    def close(self) -> None:  # noqa: B027 - optional: most models hold nothing to let go of
        """Let go of the model (stops its process, if it has one)."""

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """RGB image -> float32 array (3, input_size, input_size)."""
        return self.preprocessor(image)

    @abstractmethod
    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, 3, S, S) -> float32 (N, dim), L2-normalised."""

    def prepare(self, tower: str) -> None:  # noqa: B027 - optional: only a model loaded in parts has work here
        """Start loading ``tower`` ("text" or "image") in the background, if it is not loaded."""

    def warm_up(self) -> None:  # noqa: B027 - optional: a model loaded whole has nothing left to load
        """Load now whatever the model would load on first use."""

    def set_threads(self, n: int) -> int:
        """Run the network with ``n`` intra-op threads; returns the number before. This default is
        torch's (a global setting); a model that does not run on torch overrides it."""
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(n)
        return old

    @contextmanager
    def cpu_threads(self, n: int) -> Iterator[None]:
        """Run the network with ``n`` intra-op threads for a while."""
        old = self.set_threads(n)
        try:
            yield
        finally:
            self.set_threads(old)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_arrays(np.stack([self.preprocess(im) for im in images]))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        raise text_not_supported(self.name)


def text_not_supported(model: str) -> TextNotSupported:
    return TextNotSupported(
        f"The model '{model}' understands photos only, so it cannot search with words.",
        hint(Action.CHOOSE_MODEL, model="clip-vit-b-32"),
    )
