"""Initialising PySide's wrapper types up front, on the GUI thread, before workers start."""

from __future__ import annotations

import functools

from PySide6 import QtWidgets


@functools.cache
def initialise_widget_types() -> None:
    """Let PySide set up every QtWidgets class now instead of on first sight.

    PySide builds a wrapper class, with its Python enums, the first time it meets an object of
    that class; showing the library page met ~230 of them at once (finding the Python type of
    a widget walks its subclasses). That took 30 ms of GUI-thread time, stretched to 50-60 ms
    stalls because it happened while a worker imported modules (torch then; numpy and faiss
    now, the model having a process of its own). Done here it costs the same 30 ms once,
    during start-up, with nothing to compete with.
    """
    for name in dir(QtWidgets):
        getattr(QtWidgets, name)
