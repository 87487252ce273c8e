"""Duplicates: groups of copies and similar shots, the keeper, pixel checks."""
