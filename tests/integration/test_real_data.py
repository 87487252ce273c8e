"""Real photos (../shared/data), real semantics (efficientnet-lite2): skipped where absent."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from libgen import tree_digest
from shareddata import shared_dataset
from whitebox import catalog_of

from photosearch_desktop.engine.library import Library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ukbench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, dict[str, int]]:
    root = shared_dataset("ukbench-dev")
    with open(root / "groups.csv", newline="") as fh:
        groups = {row["filename"]: int(row["group_id"]) for row in csv.DictReader(fh)}
    lib = Library(root, data_dir=tmp_path_factory.mktemp("ukbench-data"), model="efficientnet-lite2")
    report = lib.index()
    assert report.embedded == len(groups) and report.skipped == 0
    yield lib, groups
    lib.close()


def test_ukbench_ns_score_through_the_search_api(ukbench: tuple[Library, dict[str, int]]) -> None:
    """N-S score: mean number of the 4 views of an object among the top 4 (maximum 4.0).

    The search API leaves the query photo out, and in the standard protocol the query is its
    own first hit (similarity 1.0), so top 4 = the query + the API's top 3.
    """
    lib, groups = ukbench
    members: dict[int, set[str]] = defaultdict(set)
    for name, g in groups.items():
        members[g].add(name)
    total = 0
    for name, g in groups.items():
        photo = catalog_of(lib).photo_by_path(f"images/{name}")
        top3 = [Path(r.photo.rel_path).name for r in lib.search_photo(photo.id, k=3)]
        total += 1 + sum(1 for n in top3 if n in members[g])
    ns = total / len(groups)
    print(f"UKBench-dev N-S score with efficientnet-lite2: {ns:.3f}")
    assert ns >= 3.8


def test_ukbench_query_by_external_file_matches_library_query(ukbench: tuple[Library, dict[str, int]], tmp_path: Path) -> None:
    lib, _ = ukbench
    src = lib.root / "images/ukbench00012.jpg"
    outside = tmp_path / "query.jpg"
    outside.write_bytes(src.read_bytes())
    from_outside = [r.photo.rel_path for r in lib.search_image(outside, k=4)]
    # The external copy is identical to the library photo, so that photo comes first.
    assert from_outside[0] == "images/ukbench00012.jpg"
    by_id = [r.photo.rel_path for r in lib.search_photo(catalog_of(lib).photo_by_path("images/ukbench00012.jpg").id, k=3)]
    assert from_outside[1:] == by_id


def test_messy_library_indexes_what_decodes_and_explains_the_rest(tmp_path: Path) -> None:
    root = shared_dataset("messy-dev")
    with open(root / "manifest.csv", newline="") as fh:
        manifest = {row["filename"]: row["expected_indexable"] for row in csv.DictReader(fh)}
    before = tree_digest(root / "files")
    lib = Library(root / "files", data_dir=tmp_path / "data", model="efficientnet-lite2")
    lib.index()
    status = lib.status()
    indexed = {p for p, k in catalog_of(lib).known_files().items() if k.status == "indexed"}
    skipped = {s.rel_path: s.reason for s in status.skipped}
    lib.close()

    expected_yes = {f for f, e in manifest.items() if e == "yes"}
    expected_no = {f for f, e in manifest.items() if e == "no"}
    ignored = {f for f, e in manifest.items() if e == "ignored"}
    assert indexed == expected_yes
    assert set(skipped) == expected_no
    assert all(len(reason) > 10 for reason in skipped.values())
    assert not ignored & (indexed | set(skipped))
    assert status.pending == 0
    assert tree_digest(root / "files") == before  # the library's bytes and mtimes are unchanged
