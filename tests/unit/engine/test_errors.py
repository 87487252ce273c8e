"""The engine's errors (engine/errors.py)."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import photosearch_desktop.engine
from photosearch_desktop.engine.errors import LoadError


def test_load_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(LoadError("vanished", "gone")))
    assert (err.code, err.reason, str(err)) == ("vanished", "gone", "gone")


def _raised_texts(tree: ast.AST) -> list[tuple[int, str]]:
    """The literal text of every ``raise`` (f-string parts included), with its line."""
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for part in ast.walk(node.exc):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    texts.append((node.lineno, part.value))
    return texts


def test_no_engine_message_names_a_command_line_flag() -> None:
    """The window shows engine messages too: what to do is a Hint, worded by each front end."""
    engine = Path(photosearch_desktop.engine.__file__).parent
    flag = re.compile(r"(?<![\w-])--[a-z][\w-]*")
    found = [
        f"{path.relative_to(engine)}:{line}: {text!r}"
        for path in sorted(engine.rglob("*.py"))
        for line, text in _raised_texts(ast.parse(path.read_text(encoding="utf-8")))
        if flag.search(text)
    ]
    assert len(list(engine.rglob("*.py"))) > 30  # the walk saw the engine
    assert found == []


def test_the_flag_check_sees_a_flag_in_a_raise() -> None:
    tree = ast.parse('raise LibraryError(f"give {name} with --weights FILE", hint())')
    assert [t for _, t in _raised_texts(tree) if "--weights" in t]
