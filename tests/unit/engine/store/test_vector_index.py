"""The vector index and its cache file: exact and approximate search, filters, updates,
stale or damaged caches (engine/store/vector_index.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from photosearch_desktop.engine.store.vector_index import IndexStamp, VectorIndex


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_vector_index_exact_top_k_with_and_without_filter() -> None:
    rng = np.random.default_rng(0)
    vecs = _unit(rng, 500, 16)
    ids = np.arange(1000, 1500, dtype=np.int64)
    index = VectorIndex(16)
    index.add(ids, vecs)
    q = vecs[7]
    scores, got = index.search(q, 10)
    expected = ids[np.argsort(-(vecs @ q))[:10]]
    assert list(got) == list(expected) and got[0] == 1007
    allowed = ids[ids % 7 == 0]
    scores, got = index.search(q, 10, allowed)
    assert len(got) == 10 and set(got) <= set(allowed)
    mask = np.isin(ids, allowed)
    assert list(got) == list(ids[mask][np.argsort(-(vecs[mask] @ q))[:10]])
    index.remove([1007])
    assert 1007 not in index.search(q, 10)[1]
    # An id the catalog committed a moment ago but the index has not received yet is skipped.
    assert list(index.search(q, 5, np.array([1003, 5_000_000], dtype=np.int64))[1]) == [1003]


# The flipped byte.
def test_room_reserved_for_a_build_changes_nothing_it_holds(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vecs, ids = _unit(rng, 300, 16), np.arange(300, dtype=np.int64) * 7
    grown, reserved = VectorIndex(16), VectorIndex(16)
    reserved.add(ids[:50], vecs[:50])
    reserved.reserve(250)
    reserved.reserve(10)  # less than it has room for: nothing changes
    assert len(reserved) == 50
    for start in range(0, 300, 50):
        grown.add(ids[start : start + 50], vecs[start : start + 50])
        if start:
            reserved.add(ids[start : start + 50], vecs[start : start + 50])
    assert len(reserved) == 300
    for q in vecs[::37]:
        assert [a.tolist() for a in grown.search(q, 20)] == [a.tolist() for a in reserved.search(q, 20)]
    stamp = IndexStamp(generation=1, identity="m", count=0, dim=16)
    grown.save(tmp_path / "grown.faiss", stamp)
    reserved.save(tmp_path / "reserved.faiss", stamp)
    assert (tmp_path / "grown.faiss").read_bytes() == (tmp_path / "reserved.faiss").read_bytes()


@pytest.mark.expect_log(r"^vector cache .*vectors\.faiss is damaged \(checksum mismatch\); rebuilding$")
def test_vector_cache_is_rejected_when_stale_or_damaged(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(8)
    index.add(np.arange(20, dtype=np.int64), _unit(rng, 20, 8))
    path = tmp_path / "vectors.faiss"
    stamp = IndexStamp(generation=3, identity="m", count=20, dim=8)
    index.save(path, stamp)
    loaded = VectorIndex.load(path, stamp)
    assert loaded is not None and len(loaded) == 20
    assert VectorIndex.load(path, IndexStamp(4, "m", 20, 8)) is None  # catalog moved on
    assert VectorIndex.load(path, IndexStamp(3, "other-model", 20, 8)) is None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the vectors
    path.write_bytes(bytes(data))
    assert VectorIndex.load(path, stamp) is None


def _clustered(rng: np.random.Generator, clusters: int, per: int, d: int) -> np.ndarray:
    """Photo-like structure: tight groups around distinct centres."""
    centres = _unit(rng, clusters, d)
    x = np.repeat(centres, per, axis=0) + 0.35 * rng.standard_normal((clusters * per, d)).astype(np.float32) / np.sqrt(d)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# The .ivf file damaged at the end.
@pytest.mark.expect_log(r"^vector cache .*v\.faiss is damaged \(checksum mismatch\); rebuilding$")
def test_approximate_layer_recall_filters_and_updates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import photosearch_desktop.engine.store.vector_index as vi

    monkeypatch.setattr(vi, "EXACT_MAX", 2_000)
    monkeypatch.setattr(vi, "SUBSET_EXACT_MAX", 300)
    rng = np.random.default_rng(3)
    vecs = _clustered(rng, 400, 15, 32)
    ids = np.arange(10, 10 + len(vecs), dtype=np.int64)
    stored = dict(zip(ids.tolist(), vecs.astype(np.float16).astype(np.float32), strict=True))  # what the catalog holds
    reads: list[int] = []

    def exact_vectors(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        reads.append(len(wanted))
        found = np.array([i for i in wanted.tolist() if i in stored], dtype=np.int64)
        return found, np.array([stored[i] for i in found.tolist()]).reshape(len(found), 32)

    index = vi.VectorIndex(32, exact_vectors)
    index.add(ids, vecs)
    assert index.ann_due()
    exact_before = index.search(vecs[0], 10)
    index.build_ann()
    assert index.approximate and not index.ann_due()
    # The store dropped to 8 bits per value; the final scores are the exact ones.
    assert index._coarse_store and faiss.downcast_index(index._store.index).codes.size() == len(vecs) * 32
    scores, got = index.search(vecs[0], 10)
    assert reads and max(reads) <= vi.REFINE * 10
    np.testing.assert_allclose(scores, [float(stored[i] @ vecs[0]) for i in got], rtol=0, atol=1e-6)
    assert list(got) == list(exact_before[1])

    queries = vecs[rng.choice(len(vecs), 30, replace=False)]
    recall = []
    for q in queries:
        exact = set(ids[np.argsort(-(vecs @ q))[:10]])
        recall.append(len(exact & set(index.search(q, 10)[1])) / 10)
    assert np.mean(recall) >= 0.95

    for allowed in (ids[::40], ids[ids % 3 == 0]):  # small (exhaustive) and large (IVF) filters
        scores, got = index.search(queries[0], 20, allowed)
        assert len(got) == 20 and set(got) <= set(allowed)
        assert np.all(np.diff(scores) <= 1e-6)

    new = _unit(rng, 5, 32)
    stored.update(zip(range(100_000, 100_005), new.astype(np.float16).astype(np.float32), strict=True))  # the catalog first
    index.add(np.arange(100_000, 100_005, dtype=np.int64), new)  # no rebuild needed
    assert index.search(new[2], 1)[1][0] == 100_002
    index.remove([100_002])
    assert 100_002 not in index.search(new[2], 5)[1]

    path = tmp_path / "v.faiss"
    stamp = vi.IndexStamp(1, "m", len(index), 32)
    index.save(path, stamp)
    loaded = vi.VectorIndex.load(path, stamp, exact_vectors)
    assert loaded is not None and loaded.approximate and loaded._coarse_store
    assert list(loaded.search(queries[1], 10)[1]) == list(index.search(queries[1], 10)[1])
    # A cache saved with a float16 store next to its approximate index (an earlier version)
    # moves to 8 bits when loaded.
    old = vi.VectorIndex(32)
    old.add(ids, vecs)
    old._ann, old._ann_trained_at = index._ann, index._ann_trained_at
    assert not old._coarse_store
    old_path = tmp_path / "old.faiss"
    old.save(old_path, stamp)
    upgraded = vi.VectorIndex.load(old_path, stamp, exact_vectors)
    assert upgraded is not None and upgraded.compact() and upgraded._coarse_store and not upgraded.compact()
    assert list(upgraded.search(queries[1], 10)[1]) == list(index.search(queries[1], 10)[1])

    ivf = path.with_suffix(".ivf")
    data = bytearray(ivf.read_bytes())
    data[len(data) // 3] ^= 0x10
    ivf.write_bytes(bytes(data))
    assert vi.VectorIndex.load(path, stamp) is None


@pytest.mark.skipif(sys.platform == "win32", reason="Windows' file locks have no shared readers")
def test_a_save_and_a_load_of_one_cache_wait_for_each_other(tmp_path: Path) -> None:
    """Processes share the cache (a window searching, the command line indexing): a load never
    reads a cache that a save is half way through, nor a save starts while a load reads. The
    lock is the one another process would take (flock: one per open file, even in a process)."""
    import threading

    from photosearch_desktop.engine.system.lock import files_locked

    rng = np.random.default_rng(3)
    index = VectorIndex(8)
    index.add(np.arange(20), _unit(rng, 20, 8))
    path = tmp_path / "vectors.faiss"
    stamp = IndexStamp(generation=1, identity="m", count=0, dim=8)
    index.save(path, stamp)
    lock = path.with_suffix(".lock")

    loaded: list[VectorIndex | None] = []
    with files_locked(lock):  # another process is saving
        reader = threading.Thread(target=lambda: loaded.append(VectorIndex.load(path, stamp)))
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive() and not loaded  # waits for the save to end
    reader.join(timeout=30)
    assert loaded and loaded[0] is not None and len(loaded[0]) == 20

    with files_locked(lock, shared=True), files_locked(lock, shared=True):  # two readers at once
        writer = threading.Thread(target=lambda: index.save(path, stamp))
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive()  # the save waits for both to finish reading
    writer.join(timeout=30)
    assert not writer.is_alive() and VectorIndex.load(path, stamp) is not None
