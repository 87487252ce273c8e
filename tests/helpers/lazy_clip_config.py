"""Register the tests' tiny open_clip architecture the moment open_clip is imported, not before.

Importing open_clip imports torch (4-5 s on 2 cores). A child process that registered the tiny
CLIP up front paid that in every command, even those that never need torch (a search or an
index run once the ONNX graphs are cached, a status): what a person's command line skips.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, config: Path) -> None:
        self.config = config

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "open_clip":
            return None
        sys.meta_path.remove(self)  # the real finders find it; this only wraps its loading
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, config = spec.loader, self.config
        load = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            module.add_model_config(config)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def register_when_imported(config: str | Path) -> None:
    """``open_clip.add_model_config(config)`` once open_clip is imported (now, if it is)."""
    module = sys.modules.get("open_clip")
    if module is not None:
        module.add_model_config(config)
    else:
        sys.meta_path.insert(0, _RegisterOnImport(Path(config)))
