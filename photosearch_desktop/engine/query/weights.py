"""Weights written as rclip does: ``"2:at sunset"``, ``"0.5:people"``."""

from __future__ import annotations

import math

from ..errors import Action, LibraryError, hint


def parse_weight(text: str) -> tuple[float, str]:
    """``"2:at sunset"`` -> (2.0, "at sunset"); text without a ``WEIGHT:`` prefix weighs 1.

    A prefix that is a number but no weight above 0 (``"0:beach.jpg"``, ``"-1:people"``) is
    refused: read as part of the words or the file name it gave "The query photo 0:beach.jpg
    does not exist", or a search for the words "-1:people"."""
    head, sep, rest = text.partition(":")
    if sep and rest.strip():
        try:
            weight = float(head)
        except ValueError:
            return 1.0, text
        if not (math.isfinite(weight) and weight > 0):
            raise LibraryError(
                f"The weight '{head.strip()}' in '{text}' must be a number above 0 (a weight says how much a term "
                "counts; to steer a search away from something, subtract it).",
                hint(Action.CHECK_INPUT),
            )
        return weight, rest.strip()
    return 1.0, text
