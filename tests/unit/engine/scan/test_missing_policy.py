"""When vanished photos are kept offline rather than deleted (engine/scan/missing.py), and what
change detection makes of folders it could not read (engine/scan/changes.py)."""

from __future__ import annotations

from pathlib import Path

from photosearch_desktop.engine.records import KnownFile
from photosearch_desktop.engine.scan.changes import Changes, detect_changes
from photosearch_desktop.engine.scan.missing import MIN_FOLDER_PHOTOS, MIN_PHOTOS, SHARE, hold_missing
from photosearch_desktop.engine.scan.scanner import FileStat, ScanResult


def catalog(paths: list[str], offline: frozenset[str] = frozenset()) -> dict[str, KnownFile]:
    return {rel: KnownFile(i + 1, 100 + i, 1, f"fp{i}", "indexed", offline=rel in offline) for i, rel in enumerate(paths)}


def scan_of(known: dict[str, KnownFile], keep: list[str], unread: list[str] | None = None) -> ScanResult:
    return ScanResult(files={rel: FileStat(known[rel].size, 1) for rel in keep}, unread=unread or [])


def run(known: dict[str, KnownFile], scan: ScanResult, remove_missing: bool = False) -> Changes:
    changes = detect_changes(Path("/nonexistent"), scan, known)
    hold_missing(changes, known, scan, remove_missing)
    return changes


def test_a_few_deletions_are_deleted() -> None:
    known = catalog([f"a/{i}.jpg" for i in range(100)] + [f"b/{i}.jpg" for i in range(5)])
    gone = ["a/0.jpg", "a/1.jpg", *(f"b/{i}.jpg" for i in range(5))]  # b/ whole, but small
    changes = run(known, scan_of(known, [r for r in known if r not in gone]))
    assert len(changes.deleted) == len(gone) and changes.offline == []


def test_an_empty_or_missing_root_keeps_everything() -> None:
    known = catalog(["x.jpg", "y/z.jpg"])
    for scan in (ScanResult(), ScanResult(root_problem="gone")):
        changes = run(known, scan)
        assert sorted(changes.offline) == [1, 2] and changes.deleted == []


def test_the_share_rule_needs_both_the_share_and_the_count() -> None:
    n = 1000
    known = catalog([f"f{i % 7}/{i}.jpg" for i in range(n)])  # 7 folders, each still present
    over = int(SHARE * n) + 1
    changes = run(known, scan_of(known, list(known)[over:]))
    assert len(changes.offline) == over and changes.deleted == []
    exactly = int(SHARE * n)  # not more than the share
    changes = run(known, scan_of(known, list(known)[exactly:]))
    assert changes.offline == [] and len(changes.deleted) == exactly

    small = catalog([f"f{i % 7}/{i}.jpg" for i in range(MIN_PHOTOS + 10)])
    few = MIN_PHOTOS - 1  # most of a small library, but fewer than MIN_PHOTOS
    changes = run(small, scan_of(small, list(small)[few:]))
    assert changes.offline == [] and len(changes.deleted) == few


def test_a_whole_top_level_folder_is_kept() -> None:
    paths = [f"2019/{i}.jpg" for i in range(MIN_FOLDER_PHOTOS)] + [f"2020/{i}.jpg" for i in range(200)]
    known = catalog(paths)
    stay = [r for r in known if r.startswith("2020/")][1:]  # one 2020 photo deleted too
    changes = run(known, scan_of(known, stay))
    assert len(changes.offline) == MIN_FOLDER_PHOTOS and changes.deleted == [known["2020/0.jpg"].id]
    # The folder is there with a photo left: the others were deleted by the person.
    changes = run(known, scan_of(known, [*stay, "2019/0.jpg"]))
    assert changes.offline == [] and len(changes.deleted) == MIN_FOLDER_PHOTOS


def test_remove_missing_deletes_what_is_not_found_offline_ones_too() -> None:
    known = catalog([f"d/{i}.jpg" for i in range(20)] + ["e/1.jpg"], offline=frozenset({"e/1.jpg"}))
    changes = run(known, ScanResult(), remove_missing=True)
    assert len(changes.deleted) == 21 and changes.offline == []
    changes = run(known, ScanResult())  # without: the offline photo simply stays offline
    assert changes.still_offline == [known["e/1.jpg"].id] and known["e/1.jpg"].id not in changes.offline


def test_files_under_unread_folders_are_neither_deleted_nor_offline() -> None:
    known = catalog([f"a/b/{i}.jpg" for i in range(30)] + ["a/c.jpg", "top.jpg"])
    changes = run(known, scan_of(known, ["top.jpg"], unread=["a/b"]))
    assert changes.kept == 30 and changes.deleted == [known["a/c.jpg"].id] and changes.offline == []
    changes = run(known, scan_of(known, [], unread=[""]))  # the library folder's listing broke off
    assert changes.kept == 32 and changes.deleted == [] and changes.offline == []
    changes = run(known, scan_of(known, list(known)[:-1], unread=["top.jpg"]))  # a file whose stat failed
    assert changes.kept == 1 and changes.deleted == []
