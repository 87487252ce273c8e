"""Weights written as rclip does: ``"2:at sunset"``, ``"0.5:people"``."""

from __future__ import annotations


def parse_weight(text: str) -> tuple[float, str]:
    """``"2:at sunset"`` -> (2.0, "at sunset"); text without a ``WEIGHT:`` prefix weighs 1."""
    head, sep, rest = text.partition(":")
    if sep:
        try:
            weight = float(head)
        except ValueError:
            return 1.0, text
        if weight > 0 and rest.strip():
            return weight, rest.strip()
    return 1.0, text
