"""Builds a model by registry name, on the runtime runtime.py picks.

ONNX Runtime with graphs already exported: light (no torch). Otherwise heavy: torch imports,
the weights load, and on a CPU the towers are exported to ONNX once (and checked) so that the
next start needs no torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import Action, ModelError, hint
from ..records import ModelSpec, Preparation
from .base import Embedder
from .registry import get_spec
from .runtime import Decision, decide, graphs_folder_for, refused_error

log = logging.getLogger(__name__)

PreparationCallback = Callable[[Preparation], None]
PREPARING = "Preparing the model for this computer… (once)"


def _cache(cache_dir: Path | None) -> Path:
    from ..system.paths import app_dirs

    return cache_dir if cache_dir is not None else app_dirs().models


def create_embedder(
    name: str,
    device: str | None = None,
    weights: Path | None = None,
    cache_dir: Path | None = None,
    download_progress: Callable[[int, int], None] | None = None,
    runtime: str | None = None,
    preparing: PreparationCallback | None = None,
    force_download: bool = False,
    for_queries: bool = False,
) -> Embedder:
    """Build the model. ``runtime``: "auto" (default), "onnx" or "torch"; ``preparing`` hears
    of a one-time export as it starts and ends; ``force_download``: fetch downloaded weights
    anew (the person asked for it); ``for_queries``: it embeds queries only (runtime.decide)."""
    spec = get_spec(name)
    if spec.kind != "clip" and weights is not None:
        raise ModelError(
            "efficientnet-lite2 uses the weights that ship with it; a weights file is for CLIP models.",
            hint(Action.CHECK_INPUT),
        )
    cache = _cache(cache_dir)
    decision = decide(spec, runtime, device, weights, cache, for_queries=for_queries)
    # A download the person asked for goes through torch (and the weights check) even with graphs cached.
    if decision.runtime == "onnx" and decision.folder is not None and not force_download:
        from .graphs import read_graphs

        graphs = read_graphs(decision.folder)
        if graphs is not None:
            from .onnx_embedder import OnnxEmbedder

            return OnnxEmbedder(graphs, name)
    model = _torch_embedder(spec, decision.device, weights, cache, download_progress, force_download)
    if decision.runtime == "onnx":
        return _prepare(model, spec, decision, runtime, cache, preparing)
    log.info("%s runs with torch on %s: %s", spec.name, model.device, decision.reason)
    return model


def _torch_embedder(
    spec: ModelSpec, device: str | None, weights: Path | None, cache_dir: Path,
    download_progress: Callable[[int, int], None] | None, force_download: bool,
) -> Embedder:
    from .device import resolve_device

    dev = resolve_device(device)
    if spec.kind == "clip":
        from .clip import ClipEmbedder

        return ClipEmbedder(
            spec, device=dev, weights=weights, cache_dir=cache_dir, download_progress=download_progress,
            force_download=force_download,
        )
    from .efficientnet_lite import EfficientNetLite2Embedder

    return EfficientNetLite2Embedder(device=dev)


def _prepare(
    model: Embedder, spec: ModelSpec, decision: Decision, asked: str | None, cache_dir: Path,
    preparing: PreparationCallback | None,
) -> Embedder:
    """Export ``model``'s towers to ONNX and run those; the torch model when the export is refused."""
    from .graphs import read_graphs, remember_pretrained, write_refusal
    from .onnx_embedder import OnnxEmbedder
    from .onnx_export import ExportRefused, export_graphs
    from .tokenizer import open_clip_vocab_file

    weights_file: Path = model.weights_file  # type: ignore[attr-defined]
    if spec.kind == "clip" and spec.pretrained:
        remember_pretrained(cache_dir, model.identity, weights_file)  # where a download went (keyed by identity)
    # Its hash again: a download the person asked for may have replaced the file.
    folder = graphs_folder_for(spec, weights_file, cache_dir)
    graphs = read_graphs(folder)
    if graphs is None:
        tell = preparing or (lambda p: log.info("%s", p.message))
        tell(Preparation("started", PREPARING))
        started = time.perf_counter()
        try:
            graphs = export_graphs(model, folder, open_clip_vocab_file() if spec.supports_text else None)
        except ExportRefused as exc:
            seconds = time.perf_counter() - started
            write_refusal(folder, str(exc))
            error = refused_error(spec.name, str(exc))
            if (asked or "auto").lower() == "onnx":
                raise error from exc
            message = f"{error.message} It runs with torch instead, which starts slower."
            # A real warning; where someone listens for it, they tell the person instead.
            log.log(logging.INFO if preparing else logging.WARNING, "%s", message)
            tell(Preparation("refused", message, seconds))
            return model
        seconds = time.perf_counter() - started
        tell(Preparation("finished", f"The model is prepared for this computer (took {seconds:.0f} s, once).", seconds))
    model.close()
    return OnnxEmbedder(graphs, spec.name)
