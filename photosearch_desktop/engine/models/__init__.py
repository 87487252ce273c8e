"""Image models behind one interface (:class:`~.base.Embedder`), chosen by registry name."""

from .base import Embedder, ModelError, ModelStopped, TextNotSupported
from .registry import DEFAULT_MODEL, MODELS, ModelSpec, create_embedder, get_spec

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "Embedder",
    "ModelError",
    "ModelSpec",
    "ModelStopped",
    "TextNotSupported",
    "create_embedder",
    "get_spec",
]
