"""Exports a torch model's towers to ONNX once, and checks them before they are used.

The graphs are traced from the very model torch runs (open_clip's or timm's, with the person's
weights), one graph per tower, then run by ONNX Runtime on probe photos and texts next to
torch: every output must point the same way as torch's (cosine >= MIN_COSINE), and the
torch-free tokenizer must give open_clip's token ids, or the export is refused and the model
keeps running on torch. Only then do vectors from both runtimes count as the same model
identity. An export takes tens of seconds, once per model and computer (scripts/bench_onnx.py
prints the time per model).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..system.private_files import private_dir, tighten
from .base import Embedder, l2_normalise
from .graphs import IMAGE_GRAPH, TEXT_GRAPH, GraphSet, read_graphs, runtime_versions, write_graphs
from .preprocess import ClipPreprocess, EfficientNetPreprocess
from .tokenizer import MERGES_FILE, ClipTokenizer, write_merges

log = logging.getLogger(__name__)

MIN_COSINE = 0.9999
PARTIAL = ".partial-"
ABANDONED_AFTER_S = 3600.0
_EXPORT_LOCK = threading.Lock()
OPSET = 17
PROBE_TEXTS = (
    "a dog on a beach",
    "Two children playing in the snow at dusk",
    "café crème brûlée — 東京の夜景",
    "",
    "a very long description " * 12,  # past the context length: cut, ends with the end token
)


class ExportRefused(Exception):
    """The export failed or its graphs do not give torch's vectors; the message says how."""


def probe_images() -> list[Image.Image]:
    """A few photo-like pictures of different shapes (smooth gradients, edges and noise), the
    same on every computer."""
    rng = np.random.default_rng(20260)
    out = []
    for w, h in ((640, 480), (300, 500), (256, 256), (1200, 240)):
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([x / w, y / h, 0.5 + 0.5 * np.sin(x / 17.0 + y / 29.0)], axis=-1) * 200.0
        base[h // 4 : h // 2, w // 3 : w // 2] = rng.uniform(0, 255, 3)  # a flat block with sharp edges
        pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        out.append(Image.fromarray(pixels, "RGB"))
    return out


class _Tower(torch.nn.Module):
    """One tower of ``network`` as a module of its own (the network stays a submodule, so its
    weights are exported as weights, not folded into constants)."""

    def __init__(self, network: torch.nn.Module, method: str | None) -> None:
        super().__init__()
        self.network = network
        self.method = method
        # The exporter puts a module back in the mode it found it in, submodules included: a
        # wrapper left in training mode would switch BatchNorm to batch statistics afterwards.
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.network, self.method)(x) if self.method else self.network(x)


def _export(tower: _Tower, example: torch.Tensor, path: Path) -> None:
    # Traced with autograd on: under no_grad, torch's attention takes a fused fast path that has
    # no ONNX form.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings are about Python branches it froze; checked below
        torch.onnx.export(
            tower, (example,), str(path), input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=OPSET,
            do_constant_folding=True, dynamo=False,
        )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(l2_normalise(a) * l2_normalise(b), axis=1)


def _optimise(raw: Path, path: Path) -> None:
    """Write ``raw``'s graph as ONNX Runtime optimises it (portable optimisations only: the
    computer-specific layouts are left out), weights in ``path``.data, then drop ``raw``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(path)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", path.name + ".data")
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])
    raw.unlink()


def _session(path: Path) -> object:
    """The graph as the runtime will load it."""
    from .onnx_embedder import load_session

    return load_session(path)


def _run(session: object, feed: np.ndarray) -> np.ndarray:
    return np.asarray(session.run(None, {"input": feed})[0])  # type: ignore[attr-defined]


def _clip_text_setup(embedder: Embedder) -> tuple[int, str]:
    """(context length, cleaning) of the model's tokenizer, if the torch-free one can stand in for it."""
    import open_clip.tokenizer as oct

    tokenizer: Any = getattr(embedder, "tokenizer", None)
    if type(tokenizer) is not oct.SimpleTokenizer or tokenizer.reduction_fn is not None or len(tokenizer.all_special_ids) != 2:
        raise ExportRefused(f"its tokenizer ({type(tokenizer).__name__}) is not CLIP's plain byte-pair tokenizer")
    cleaning = {oct._clean_lower: "lower", oct._clean_whitespace: "whitespace", oct._clean_canonicalize: "canonicalize"}
    clean = cleaning.get(tokenizer.clean_fn)
    if clean is None:
        raise ExportRefused("its tokenizer cleans text in a way the torch-free tokenizer does not")
    return int(tokenizer.context_length), clean


def _drop_abandoned(folder: Path) -> None:
    """Remove what an export killed midway left of this model (hundreds of MB), once it is
    older than any export could take."""
    for partial in folder.parent.glob(folder.name + PARTIAL + "*"):
        try:
            if time.time() - partial.stat().st_mtime > ABANDONED_AFTER_S:
                shutil.rmtree(partial, ignore_errors=True)
        except OSError:
            continue


def export_graphs(embedder: Embedder, folder: Path, vocab_file: Path | None) -> GraphSet:
    """Export ``embedder`` (a torch model on the CPU) into ``folder`` and check it; ExportRefused
    if it cannot be exported or does not match. ``vocab_file``: open_clip's BPE vocabulary (CLIP).

    One export at a time in a process: torch's exporter keeps its state in globals, and a
    second export started meanwhile (another library's model, loading in another thread)
    fails with "GLOBALS.in_onnx_export must be False"."""
    with _EXPORT_LOCK:
        done = read_graphs(folder)  # exported while this one waited
        return done if done is not None else _export_graphs(embedder, folder, vocab_file)


def _export_graphs(embedder: Embedder, folder: Path, vocab_file: Path | None) -> GraphSet:
    started = time.perf_counter()
    network: Any = embedder.network  # type: ignore[attr-defined]
    private_dir(folder.parent)
    _drop_abandoned(folder)
    # A folder of its own: two processes may export the same model at once (the window and a
    # command); the first to finish puts its folder in place, the other's is dropped.
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + PARTIAL, dir=folder.parent))
    try:
        graphs = _export_checked(embedder, network, tmp, vocab_file, started)
        write_graphs(tmp, graphs)
        # The exporter and ONNX Runtime write with the umask; the folder (mkdtemp's 0700) kept
        # them private meanwhile, and they stay so where it is put.
        tighten(tmp)
        try:
            tmp.rename(folder)
        except OSError:
            if read_graphs(folder) is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same export first
    except ExportRefused:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:  # noqa: BLE001 - the exporter and ONNX Runtime fail in many ways
        shutil.rmtree(tmp, ignore_errors=True)
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ExportRefused(f"the export failed ({type(exc).__name__}: {first})") from exc
    log.info("exported %s to ONNX in %.1f s", embedder.identity, graphs.export_seconds)
    return GraphSet(**{**graphs.__dict__, "folder": folder})


def _export_checked(
    embedder: Embedder, network: Any, tmp: Path, vocab_file: Path | None, started: float
) -> GraphSet:
    images = np.stack([embedder.preprocess(im) for im in probe_images()])
    is_clip = embedder.supports_text
    image_tower = _Tower(network, "encode_image" if is_clip else None)
    _export(image_tower, torch.from_numpy(images[:2]), tmp / ("raw-" + IMAGE_GRAPH))
    _optimise(tmp / ("raw-" + IMAGE_GRAPH), tmp / IMAGE_GRAPH)
    with torch.inference_mode():
        expected = image_tower(torch.from_numpy(images)).float().numpy()
    image_session = _session(tmp / IMAGE_GRAPH)
    got = np.concatenate([_run(image_session, images), _run(image_session, images[:1])])
    image_cos = float(min(_cosines(expected, got[: len(images)]).min(), _cosines(expected[:1], got[len(images):]).min()))
    if not image_cos >= MIN_COSINE:
        raise ExportRefused(f"its image graph gives other vectors than torch (cosine {image_cos:.6f} < {MIN_COSINE})")

    text = None
    text_cos = None
    if is_clip:
        context_length, clean = _clip_text_setup(embedder)
        if vocab_file is None or not vocab_file.is_file():
            raise ExportRefused("open_clip's tokenizer vocabulary was not found")
        write_merges(vocab_file, tmp / MERGES_FILE)
        ours = ClipTokenizer(tmp / MERGES_FILE, context_length, clean)(list(PROBE_TEXTS))
        theirs = embedder.tokenizer(list(PROBE_TEXTS)).numpy()  # type: ignore[attr-defined]
        if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
            raise ExportRefused("the torch-free tokenizer gives other token ids than open_clip's")
        _export(_Tower(network, "encode_text"), torch.from_numpy(ours[:2]), tmp / ("raw-" + TEXT_GRAPH))
        _optimise(tmp / ("raw-" + TEXT_GRAPH), tmp / TEXT_GRAPH)
        with torch.inference_mode():
            expected_text = network.encode_text(torch.from_numpy(ours)).float().numpy()
        got_text = _run(_session(tmp / TEXT_GRAPH), ours)
        text_cos = float(_cosines(expected_text, got_text).min())
        if not text_cos >= MIN_COSINE:
            raise ExportRefused(f"its text graph gives other vectors than torch (cosine {text_cos:.6f} < {MIN_COSINE})")
        text = {"context_length": context_length, "clean": clean, "vocab": MERGES_FILE}

    pre = embedder.preprocessor
    if isinstance(pre, ClipPreprocess):
        preprocess = {"kind": "clip", "size": pre.size, "mean": list(pre.mean), "std": list(pre.std)}
    elif isinstance(pre, EfficientNetPreprocess):
        preprocess = {"kind": "efficientnet", "size": pre.size}
    else:
        raise ExportRefused(f"its preprocessing ({type(pre).__name__}) is not known to the ONNX path")
    return GraphSet(
        name=embedder.name, identity=embedder.identity, dim=embedder.dim, input_size=embedder.input_size,
        preprocess=preprocess, text=text,
        export_seconds=round(time.perf_counter() - started, 2), min_cosine_image=image_cos,
        min_cosine_text=text_cos, versions=runtime_versions(),
    )
