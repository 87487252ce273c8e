"""Search quality, duplicates and collapsing on real photos (../shared/data/ukbench-dev) with
efficientnet-lite2: skipped where the data set is absent. The library is indexed once."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from shareddata import shared_dataset
from whitebox import catalog_of

from photosearch_desktop.cli import main
from photosearch_desktop.engine.library import Library
from photosearch_desktop.engine.records import SIMILAR_SHOT, SearchFilters

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ukbench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, Path]:
    root = shared_dataset("ukbench-dev")
    data_dir = tmp_path_factory.mktemp("ukbench-quality")
    lib = Library(root, data_dir=data_dir, model="efficientnet-lite2")
    report = lib.index()
    assert report.skipped == 0 and report.embedded > 0
    yield lib, data_dir
    lib.close()


def object_of(rel_path: str) -> int:
    return int(Path(rel_path).stem[-5:]) // 4  # UKBench: 4 consecutive images show one object


def test_eval_command_on_ukbench(ukbench: tuple[Library, Path], capsys: pytest.CaptureFixture[str]) -> None:
    lib, data_dir = ukbench
    args = ["eval", str(lib.root), "--groups", str(lib.root / "groups.csv"), "--model", "efficientnet-lite2",
            "--data-dir", str(data_dir), "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    print(f"UKBench-dev, efficientnet-lite2: N-S {doc['ns_score']:.3f}, mAP {doc['mAP']:.4f}, P@1 {doc['precision@1']:.3f}")
    assert doc["unmatched_count"] == 0 and doc["queries"] == catalog_of(lib).counts()["indexed"]
    assert doc["ns_score"] >= 3.8
    assert doc["mAP"] >= 0.95


def test_ukbench_views_are_similar_shots_never_copies(ukbench: tuple[Library, Path]) -> None:
    lib, _ = ukbench
    groups = lib.find_duplicates()
    members = [(g.keeper.rel_path, m) for g in groups for m in g.members]
    same_object = [m for k, m in members if object_of(k) == object_of(m.photo.rel_path)]
    # Other views of one object are other shots: none lands in the copy tier, none is
    # preselected for removal.
    assert same_object and Counter(m.label for m in same_object) == {SIMILAR_SHOT: len(same_object)}
    assert all(m.tier == "similar" and not m.selected_by_default for _, m in members)
    # Groups hold views of one object (a rare look-alike object at most).
    assert len(same_object) >= 0.95 * len(members)


def test_default_collapse_keeps_other_views_and_fold_similar_folds_them(ukbench: tuple[Library, Path]) -> None:
    lib, _ = ukbench
    threshold = lib.spec.dup_threshold
    for name in ("images/ukbench00061.jpg", "images/ukbench00134.jpg", "images/ukbench00300.jpg"):
        photo = catalog_of(lib).photo_by_path(name)
        plain = lib.search_photo(photo.id, k=10)
        # By default only copies fold; UKBench has none, so the other views stay results.
        assert lib.search_photo(photo.id, k=10, filters=SearchFilters(collapse_duplicates=True)) == plain
        similar = SearchFilters(collapse_duplicates=True, fold_similar=True)
        results = lib.search_photo(photo.id, k=10, filters=similar)
        assert len(results) == 10
        _, vectors = catalog_of(lib).vectors([r.photo.id for r in results])
        sims = vectors @ vectors.T - np.eye(len(results))
        assert sims.max() < threshold  # no two shown results are similar shots
        shown = {r.photo.id for r in results} | {f.photo.id for r in results for f in r.folded}
        assert {r.photo.id for r in plain} <= shown  # nothing the plain search shows is lost
