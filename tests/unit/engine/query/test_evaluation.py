"""Search quality against known groups (engine/query/evaluation.py): a groups file matched
to a catalog of constructed vectors, and the metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from vectorgen import at_angle, constructed_catalog, unit

from photosearch_desktop.engine.errors import EvaluationError
from photosearch_desktop.engine.query.evaluation import evaluate, read_groups


# The groups file's missing.jpg.
@pytest.mark.expect_log(r"^1 rows of .*groups\.csv name no indexed photo, e\.g\. missing\.jpg$")
def test_groups_csv_matching_and_metrics_on_constructed_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    centres = [unit(rng.standard_normal(16)) for _ in range(3)]
    vectors = np.stack([at_angle(c, unit(rng.standard_normal(16)), 0.95) for c in centres for _ in range(4)])
    catalog, ids = constructed_catalog(tmp_path / "c.sqlite", vectors)
    with catalog.transaction() as tx:  # give the photos the layouts a groups file may describe
        tx.execute("UPDATE photos SET rel_path = 'images/' || rel_path WHERE rel_path < 'p04'")
        tx.execute("UPDATE photos SET rel_path = 'sub/' || rel_path WHERE rel_path >= 'p04' AND rel_path < 'p08'")
    rows = ["filename,group_id"]
    rows += [f"p{i:02d}.jpg,0" for i in range(4)]  # bare names under images/ (UKBench)
    rows += [f"sub/p{i:02d}.jpg,1" for i in range(4, 6)] + [f"p{i:02d}.jpg,1" for i in range(6, 8)]  # path / unique name
    rows += [f"p{i:02d}.jpg,2" for i in range(8, 12)] + ["missing.jpg,3"]
    csv_path = tmp_path / "groups.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    groups, unmatched = read_groups(csv_path, catalog)
    assert len(groups) == 12 and unmatched == ["missing.jpg"]
    report = evaluate(catalog, groups, unmatched)
    assert (report.queries, report.groups, report.photos) == (12, 3, 12)
    assert report.mean_average_precision == pytest.approx(1.0) and report.ns_score == pytest.approx(4.0)
    assert report.precision[1] == 1.0 and report.recall[4] == 1.0 and report.precision[4] == pytest.approx(0.75)

    bad = tmp_path / "bad.csv"
    bad.write_text("name,group\nx,1\n")
    with pytest.raises(EvaluationError, match="filename,group_id"):
        read_groups(bad, catalog)
    none = tmp_path / "none.csv"
    none.write_text("filename,group_id\nnowhere.jpg,1\n")
    with pytest.raises(EvaluationError, match="No row"):
        read_groups(none, catalog)
