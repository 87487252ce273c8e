"""PySide6 checks every module imported after it for the word "PySide6" (its __feature__
switches apply to those); the lighter check reads the file's bytes and answers the same."""

from __future__ import annotations

import sys
from pathlib import Path

from photosearch_desktop.ui.heavy_imports import lighten_pyside_import_hook


def test_the_lighter_check_answers_as_pyside_does(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lighten_pyside_import_hook()
    feature = sys.modules["shibokensupport.feature"]
    assert getattr(feature._mod_uses_pyside, "lightened", False)
    lighten_pyside_import_hook()  # a second call keeps the one wrapper
    assert feature._mod_uses_pyside.__closure__ is not None
    (tmp_path / "uses_qt_here.py").write_text("import PySide6.QtCore\n", encoding="utf-8")
    (tmp_path / "plain_module_here.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import plain_module_here  # noqa: F401 - an import statement is what PySide's hook sees
    import uses_qt_here  # noqa: F401
    assert feature.pyside_feature_dict["uses_qt_here"] == 0
    assert feature.pyside_feature_dict["plain_module_here"] == -1
    assert feature._mod_uses_pyside(sys) is False  # built in: no file, PySide's own answer
