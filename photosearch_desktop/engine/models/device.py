"""Picks the compute device: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

import torch

from ..errors import Action, ModelError, hint


def resolve_device(requested: str | None) -> str:
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    requested = requested.lower()
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"Device '{requested}' was asked for, but no CUDA GPU is available.", hint(Action.CHOOSE_DEVICE))
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("Device 'mps' was asked for, but Apple Metal is not available.", hint(Action.CHOOSE_DEVICE))
    if requested not in ("cpu", "mps") and not requested.startswith("cuda"):
        raise ModelError(f"Unknown device '{requested}'. Use auto, cpu, cuda, cuda:N or mps.", hint(Action.CHOOSE_DEVICE))
    return requested
