"""PySide6 checks every module imported after it for the word "PySide6" (its __feature__
switches apply to those) with inspect.getsource; the lighter check reads the file's bytes and
gives the same answers."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

from photosearch_desktop.ui.heavy_imports import lighten_pyside_import_hook


def test_the_lighter_check_answers_as_pyside_does(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lighten_pyside_import_hook()
    lighten_pyside_import_hook()  # a second call keeps the one wrapper
    feature = sys.modules["shibokensupport.feature"]
    check = feature._mod_uses_pyside
    assert getattr(check, "lightened", False)
    (tmp_path / "names_qt_here.py").write_text("# é\nimport PySide6.QtCore\n", encoding="utf-8")
    (tmp_path / "plain_module_here.py").write_text("VALUE = 'PySide'\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, expected in (("names_qt_here", True), ("plain_module_here", False)):
        module = importlib.import_module(name)
        assert check(module) is expected
        assert ("PySide6" in inspect.getsource(module)) is expected  # PySide's own question
    assert check(sys) is False  # built in: no source file, PySide's own answer
