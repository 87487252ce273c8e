"""A query of several terms as one vector.

Each term's vector is a unit vector (a photo, an image file, words); the query is the
normalised weighted sum, ``unit(sum(w_i * v_i))``. With equal weights and only photos this is
the normalised mean of their vectors ("find similar to these"); a negative weight subtracts a
term ("- people", "not like this photo"), as rclip's ``--subtract`` does. Cosine similarity to
that vector ranks the library.
"""

from __future__ import annotations

import numpy as np

from ..errors import Action, LibraryError, hint


def combine(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``unit(sum(w_i * v_i))`` for unit row vectors ``vectors`` and their ``weights``."""
    weights = np.asarray(weights, dtype=np.float32)
    if not np.any(weights > 0):
        raise LibraryError("A search needs at least one photo or some words to look for.", hint(Action.CHECK_INPUT))
    total = weights @ np.asarray(vectors, dtype=np.float32)
    norm = float(np.linalg.norm(total))
    if norm < 1e-6:
        raise LibraryError(
            "The terms of this search cancel each other out (what it looks for is also what it avoids).",
            hint(Action.CHECK_INPUT),
        )
    return (total / norm).astype(np.float32)
