"""Folding near-duplicates under better-ranked results (engine/query/diversity.py)."""

from __future__ import annotations

import numpy as np
from vectorgen import at_angle, unit

from photosearch_desktop.engine.query.diversity import fold_near_duplicates


def test_fold_near_duplicates_folds_under_kept_results_only() -> None:
    rng = np.random.default_rng(4)
    x = unit(rng.standard_normal(16))
    y = at_angle(x, unit(rng.standard_normal(16)), 0.95)  # near-duplicate of x
    z = at_angle(y, unit(-x + 0.1 * unit(rng.standard_normal(16))), 0.95)  # close to y only
    assert z @ x < 0.9
    w = unit(rng.standard_normal(16))
    folds = fold_near_duplicates(np.stack([x, y, z, w, x]), 0.9)
    assert [(f.kept, f.folded) for f in folds] == [(0, [1, 4]), (2, []), (3, [])]
    limited = fold_near_duplicates(np.stack([x, w, y, z, x]), 0.9, limit=1)
    assert [(f.kept, f.folded) for f in limited] == [(0, [2, 4])]
