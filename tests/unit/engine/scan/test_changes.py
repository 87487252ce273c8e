"""What changed since the last scan: new, modified, moved, deleted (engine/scan/changes.py)."""

from __future__ import annotations

import os
from pathlib import Path

from libgen import write_photo

from photosearch_desktop.engine.scan.changes import detect_changes
from photosearch_desktop.engine.scan.scanner import scan_library
from photosearch_desktop.engine.store.catalog import Catalog


def _catalog_with(tmp_path: Path, root: Path) -> Catalog:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    scan = scan_library(root)
    changes = detect_changes(root, scan, catalog.known_files())
    catalog.apply_changes(changes.new, changes.modified, changes.moved, changes.deleted, scan.problems)
    # Give every photo its fingerprint, as the indexing pipeline does.
    from photosearch_desktop.engine.scan.fingerprint import fingerprint

    with catalog.transaction() as tx:
        for rel, known in catalog.known_files().items():
            tx.execute("UPDATE photos SET fingerprint = ? WHERE id = ?", (fingerprint(root / rel), known.id))
    return catalog


def test_changes_new_modified_moved_deleted(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for i in range(4):
        write_photo(root / f"p{i}.jpg", seed=i)
    catalog = _catalog_with(tmp_path, root)
    ids = {rel: k.id for rel, k in catalog.known_files().items()}

    write_photo(root / "new.jpg", seed=10)
    write_photo(root / "p1.jpg", seed=11)  # modified in place
    os.utime(root / "p1.jpg", ns=(1, 1))
    (root / "sub").mkdir()
    (root / "p2.jpg").rename(root / "sub" / "renamed.jpg")
    (root / "p3.jpg").unlink()

    changes = detect_changes(root, scan_library(root), catalog.known_files())
    assert [n[0] for n in changes.new] == ["new.jpg"]
    assert [m[0] for m in changes.modified] == [ids["p1.jpg"]]
    assert [(m[0], m[1]) for m in changes.moved] == [(ids["p2.jpg"], "sub/renamed.jpg")]
    assert changes.deleted == [ids["p3.jpg"]]
    assert changes.unchanged == 1


def test_copy_is_new_not_moved_when_original_remains(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    write_photo(root / "a.jpg", seed=1)
    catalog = _catalog_with(tmp_path, root)
    (root / "a (1).jpg").write_bytes((root / "a.jpg").read_bytes())
    changes = detect_changes(root, scan_library(root), catalog.known_files())
    assert [n[0] for n in changes.new] == ["a (1).jpg"] and not changes.moved and not changes.deleted


def test_case_only_rename_is_a_move(tmp_path: Path) -> None:
    """Windows and macOS file systems ignore case: renaming Photo.JPG to photo.jpg is the same
    file to them, and a common tidy-up. It keeps its row (and vector); nothing is re-embedded."""
    root = tmp_path / "lib"
    write_photo(root / "Photo.JPG", seed=1)
    write_photo(root / "Other.jpg", seed=2)
    catalog = _catalog_with(tmp_path, root)
    photo_id = catalog.known_files()["Photo.JPG"].id

    os.rename(root / "Photo.JPG", root / "photo.jpg")
    changes = detect_changes(root, scan_library(root), catalog.known_files())
    assert [(m[0], m[1]) for m in changes.moved] == [(photo_id, "photo.jpg")]
    assert changes.new == [] and changes.deleted == [] and changes.unchanged == 1
    catalog.apply_changes(changes.new, changes.modified, changes.moved, changes.deleted, [])
    known = catalog.known_files()
    assert sorted(known) == ["Other.jpg", "photo.jpg"] and known["photo.jpg"].id == photo_id


def test_a_file_whose_time_alone_changed_is_touched_not_embedded_again(tmp_path: Path) -> None:
    """Copying a library without its times, a restore from backup, a FAT drive across a
    daylight-saving change: every time differs, no photo does. The vectors stay."""
    root = tmp_path / "lib"
    for i in range(3):
        write_photo(root / f"p{i}.jpg", seed=i)
    catalog = _catalog_with(tmp_path, root)
    ids = {rel: k.id for rel, k in catalog.known_files().items()}
    os.utime(root / "p0.jpg", ns=(10**18, 10**18))  # the time alone
    data = bytearray((root / "p1.jpg").read_bytes())
    data[100] ^= 0xFF  # the same size, other contents (in the head, as an edit of the metadata is)
    (root / "p1.jpg").write_bytes(bytes(data))
    os.utime(root / "p1.jpg", ns=(10**18, 10**18))

    changes = detect_changes(root, scan_library(root), catalog.known_files())
    assert changes.touched == [(ids["p0.jpg"], 10**18)]
    assert [m[0] for m in changes.modified] == [ids["p1.jpg"]]
    assert changes.unchanged == 2 and not changes.new and not changes.deleted

    catalog.apply_changes(changes.new, changes.modified, changes.moved, changes.deleted, [], touched=changes.touched)
    assert catalog.known_files()["p0.jpg"].mtime_ns == 10**18
    again = detect_changes(root, scan_library(root), catalog.known_files())
    assert again.empty, "recorded: the next scan reads nothing again"


def test_an_offline_photo_back_with_another_time_comes_back_as_it_was(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for i in range(2):
        write_photo(root / f"p{i}.jpg", seed=i)
    catalog = _catalog_with(tmp_path, root)
    photo_id = catalog.known_files()["p0.jpg"].id
    catalog.apply_changes([], [], [], [], [], offline=[photo_id])
    os.utime(root / "p0.jpg", ns=(10**18, 10**18))  # the drive came back with shifted times

    changes = detect_changes(root, scan_library(root), catalog.known_files())
    assert changes.returned == [photo_id] and changes.touched == [(photo_id, 10**18)]
    assert not changes.modified and changes.unchanged == 1
