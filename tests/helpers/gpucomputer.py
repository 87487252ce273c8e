"""A computer where a GPU is expected, simulated on one without: torch, asked when the GPU's
model loads, finds none, so that model runs on the CPU too; what differs is which model the
Library loads for what, and that is recorded."""

from __future__ import annotations

import pytest

from photosearch_desktop.engine import indexer
from photosearch_desktop.engine.models import runtime
from photosearch_desktop.engine.models.handle import ModelHandle


def simulate_gpu_computer(monkeypatch: pytest.MonkeyPatch, large: int) -> list[tuple[str, bool]]:
    """Expect a GPU, count a run of ``large`` photos or more as large, and return the list of
    each model handle's loads and closes from now on, as ("load" | "close", for queries)."""
    monkeypatch.setattr(runtime, "gpu_expected", lambda: "cuda")
    monkeypatch.setattr(runtime, "gpu_run_photos", lambda: large)
    monkeypatch.setattr(indexer, "gpu_run_photos", lambda: large)
    seen: list[tuple[str, bool]] = []
    real_load, real_close = ModelHandle._load, ModelHandle.close

    def load(self: ModelHandle):  # type: ignore[no-untyped-def]
        seen.append(("load", self.for_queries))
        return real_load(self)

    def close(self: ModelHandle) -> None:
        if self.loaded is not None:
            seen.append(("close", self.for_queries))
        real_close(self)

    monkeypatch.setattr(ModelHandle, "_load", load)
    monkeypatch.setattr(ModelHandle, "close", close)
    return seen
