"""Near-duplicate photos: groups, the photo to keep in each, and how each member relates to it.

Three steps, none of them needing memory in proportion to (number of photos)^2:

1. :func:`build_graph`: every pair of photos whose vectors have cosine >= a floor, found
   exactly by block-wise matrix products over the catalog's vectors (only the pairs above the
   floor are kept). Two kinds of pairs are found however low their cosine:
   - byte-identical files: same fingerprint and size, confirmed by hashing their whole
     content (those files only, never the whole library);
   - copies at another size or JPEG quality: an embedding sees a small or heavily compressed
     copy through blur and artefacts (efficientnet-lite2 gives a 25% copy a cosine of 0.5-0.8
     to its original, lower than some unrelated photos get). So each photo's few nearest
     neighbours of the same aspect ratio are compared on pixels (:mod:`.image_match`, same
     framing only: cheap), and confirmed copies stay together like identical files. Pairs
     whose perceptual hashes (taken at index time) are far apart are not even decoded.
2. :func:`group_duplicates`: greedy, centre-based grouping at a threshold >= the floor (so a
   threshold slider regroups without searching again). Photos are taken best keeper first;
   each one not yet grouped becomes a centre and gathers its ungrouped neighbours, most
   similar first. A neighbour joins only if it is also close to the members already in
   (>= threshold to most of them, >= threshold - LINK_SLACK to every one), so A~B and B~C
   never pull an unrelated C into A's group.
3. :func:`verify_labels`: each member against the keeper: "identical file" (same bytes),
   "same photo" (an edited copy, verified on pixels by :mod:`.image_match`), or "similar shot".
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import Action, Cancelled, DuplicateSearchError, LoadError, hint
from ..media.pixel_hash import hash_distance
from ..records import (
    IDENTICAL,
    SAME_PHOTO,
    SIMILAR_SHOT,
    DuplicateGroup,
    DuplicateMember,
    PhotoRecord,
    SearchFilters,
)
from ..store.catalog import Catalog
from .image_match import Thumb, aspect_close, is_same_picture, load_thumb

log = logging.getLogger(__name__)

# A member may be a little less similar to other members than to the centre: two different
# edits of one photo (a crop and a rotation, say) are further apart than each is from the
# original. Unrelated photos are far below this margin.
LINK_SLACK = 0.05
BLOCK = 2048  # rows per matrix product: a 2048 x 2048 float32 block is 16 MB
COPY_NEIGHBOURS = 3  # nearest neighbours per photo compared on pixels as possible copies
COPY_FLOOR = 0.5  # below this cosine even a 25% copy is not looked for
COPY_CHUNK = 256  # possible copies compared per batch
THUMB_CACHE = 4096  # thumbnails kept between batches (~60 MB)
MAX_PAIRS = 5_000_000  # ~60 MB of pairs; more means a threshold far too low for this library
HASH_CHUNK = 1 << 20
# Perceptual hashes further apart than this (of 64 bits) rule a pair out as same-framing
# copies without decoding it. Measured on real photos (scripts/bench_dupes.py): resized,
# re-encoded, recoloured and captioned copies differ by at most 12 bits; of the look-alike
# candidates in UKBench (another view of the same object) 7.5 % come within 14, of random
# pairs 0.04 %.
COPY_HASH_MAX = 14

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class DuplicateGraph:
    """Candidate pairs of a library (or folder) at cosine >= ``floor``."""

    floor: float
    root: Path
    a: np.ndarray  # photo ids: each pair (a[i], b[i]) once
    b: np.ndarray
    similarity: np.ndarray
    identical: tuple[tuple[int, ...], ...]  # sets of byte-identical files
    copies: tuple[tuple[int, int], ...] = ()  # pairs confirmed on pixels as the same picture
    copy_candidates: int = 0  # nearest-neighbour pairs of the same aspect ratio
    copy_comparisons: int = 0  # of those, compared on pixels (the others' hashes ruled them out)


def keeper_key(photo: PhotoRecord) -> tuple[int, int, datetime, str]:
    """Sorts the photo to keep first (see KEEPER_RULE; then the path, for determinism)."""
    pixels = (photo.width or 0) * (photo.height or 0)
    return (-pixels, -photo.size, photo.taken_at or datetime.max, photo.rel_path)


def file_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


# -- 1. candidate pairs ------------------------------------------------------------------------


def build_graph(
    catalog: Catalog,
    root: Path,
    floor: float,
    folder: str = "",
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    find_copies: bool = True,
) -> DuplicateGraph:
    """All pairs with cosine >= ``floor`` among the indexed photos (of ``folder`` and below),
    identical files, and (``find_copies``) copies confirmed on pixels."""
    ids = np.sort(catalog.filtered_ids(SearchFilters(folder=folder)))
    ids, vectors = _load_vectors(catalog, ids)
    n = len(ids)
    blocks = [(i, j) for i in range(0, n, BLOCK) for j in range(i, n, BLOCK)]
    found_a, found_b, found_s = [], [], []
    near = _Nearest(n, COPY_NEIGHBOURS)
    total = 0
    for done, (i, j) in enumerate(blocks):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        sims = vectors[i : i + BLOCK].astype(np.float32) @ vectors[j : j + BLOCK].astype(np.float32).T
        if i == j:
            np.fill_diagonal(sims, -np.inf)  # never a photo with itself
        if find_copies:
            near.update(i, j, sims)
        r, c = np.nonzero(sims >= floor)
        if i == j:
            r, c = r[r < c], c[r < c]  # each pair once
        total += len(r)
        if total > MAX_PAIRS:
            raise DuplicateSearchError(
                f"More than {MAX_PAIRS:,} pairs of photos have a similarity of {floor:.2f} or more: "
                "that threshold is too low to find duplicates in this library.",
                hint(Action.RAISE_THRESHOLD),
            )
        found_a.append(ids[i + r])
        found_b.append(ids[j + c])
        found_s.append(sims[r, c])
        if progress:
            progress(done + 1, len(blocks))
    identical = _identical_sets(catalog, root, set(ids.tolist()), cancel)
    copies, candidates, compared = (
        _confirmed_copies(catalog, root, near.pairs(ids), identical, cancel, progress) if find_copies else ((), 0, 0)
    )
    log.info(
        "duplicate candidates among %d photos: %d pairs >= %.3f, %d identical sets, %d confirmed copies",
        n, total, floor, len(identical), len(copies),
    )
    return DuplicateGraph(
        floor=floor,
        root=root,
        a=np.concatenate(found_a) if found_a else np.zeros(0, np.int64),
        b=np.concatenate(found_b) if found_b else np.zeros(0, np.int64),
        similarity=np.concatenate(found_s) if found_s else np.zeros(0, np.float32),
        identical=identical,
        copies=copies,
        copy_candidates=candidates,
        copy_comparisons=compared,
    )


class _Nearest:
    """Each photo's ``m`` most similar others with cosine >= COPY_FLOOR, kept block by block.

    Only the entries above the floor are looked at (few, but for copies and look-alikes), so
    this costs a comparison per entry rather than a sort of every block.
    """

    def __init__(self, n: int, m: int) -> None:
        self.m = m
        self.sims = np.full((n, m), -np.inf, dtype=np.float32)
        self.cols = np.full((n, m), -1, dtype=np.int64)

    def update(self, i: int, j: int, sims: np.ndarray) -> None:
        r, c = np.nonzero(sims >= COPY_FLOOR)
        if len(r):
            s = sims[r, c]
            self._merge(i + r, j + c, s)
            if i != j:
                self._merge(j + c, i + r, s)  # the block below the diagonal, never computed

    def _merge(self, rows: np.ndarray, cols: np.ndarray, sims: np.ndarray) -> None:
        touched = np.unique(rows)
        all_rows = np.concatenate([np.repeat(touched, self.m), rows])
        all_cols = np.concatenate([self.cols[touched].ravel(), cols])
        all_sims = np.concatenate([self.sims[touched].ravel(), sims])
        order = np.lexsort((-all_sims, all_rows))  # by row, most similar first
        all_rows, all_cols, all_sims = all_rows[order], all_cols[order], all_sims[order]
        rank = np.arange(len(all_rows)) - np.searchsorted(all_rows, all_rows, side="left")
        keep = rank < self.m
        self.sims[all_rows[keep], rank[keep]] = all_sims[keep]
        self.cols[all_rows[keep], rank[keep]] = all_cols[keep]

    def pairs(self, ids: np.ndarray) -> set[tuple[int, int]]:
        r, k = np.nonzero(self.sims >= COPY_FLOOR)
        a, b = ids[r], ids[self.cols[r, k]]
        return {(int(min(x, y)), int(max(x, y))) for x, y in zip(a, b, strict=True)}


def _load_vectors(catalog: Catalog, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float16 vectors), filled in place: float16 halves the memory (the products are
    done in float32, a block at a time)."""
    out_ids = np.zeros(len(ids), np.int64)
    out: np.ndarray | None = None
    n = 0
    for start in range(0, len(ids), 10_000):
        got, vecs = catalog.vectors(ids[start : start + 10_000].tolist())
        if out is None:
            out = np.zeros((len(ids), vecs.shape[1]), np.float16)
        out_ids[n : n + len(got)], out[n : n + len(got)] = got, vecs
        n += len(got)
    if out is None:
        return out_ids, np.zeros((0, 1), np.float16)
    return out_ids[:n], out[:n]


def _identical_sets(
    catalog: Catalog, root: Path, allowed: set[int], cancel: threading.Event | None
) -> tuple[tuple[int, ...], ...]:
    """Byte-identical files: same fingerprint and size first, then the same full hash."""
    candidates = [[i for i in s if i in allowed] for s in catalog.same_fingerprint_sets()]
    candidates = [s for s in candidates if len(s) > 1]
    records = catalog.photos([i for s in candidates for i in s])
    out = []
    for ids in candidates:
        by_hash: dict[str, list[int]] = {}
        for pid in ids:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if pid not in records:
                continue
            try:
                digest = file_hash(root / records[pid].rel_path)
            except OSError as exc:
                log.info("cannot hash %s: %s", records[pid].rel_path, exc)
                continue
            by_hash.setdefault(digest, []).append(pid)
        out += [tuple(sorted(same)) for same in by_hash.values() if len(same) > 1]
    return tuple(out)


def _confirmed_copies(
    catalog: Catalog,
    root: Path,
    pairs: set[tuple[int, int]],
    identical: tuple[tuple[int, ...], ...],
    cancel: threading.Event | None,
    progress: Progress | None,
) -> tuple[tuple[tuple[int, int], ...], int, int]:
    """The ``pairs`` that show the same picture at the same framing (pixel check), how many
    pairs were candidates and how many were compared; progress counts pairs (a second pass
    after the vector comparison's)."""
    same_file = {i: n for n, s in enumerate(identical) for i in s}
    records = catalog.photos(sorted({i for p in pairs for i in p}))

    def candidate(a: int, b: int) -> bool:
        ra, rb = records.get(a), records.get(b)
        if ra is None or rb is None or not (ra.width and ra.height and rb.width and rb.height):
            return False
        if a in same_file and same_file.get(b) == same_file[a]:
            return False  # already known: identical files
        return aspect_close(ra.width, ra.height, rb.width, rb.height)

    # Sorted, so that the comparisons of one photo come together; in chunks, each decoded and
    # compared on all cores (decoding and FFTs release the GIL). A thumbnail is dropped after
    # its photo's last comparison.
    candidates = sorted(p for p in pairs if candidate(*p))
    todo = _hashes_close(catalog, candidates)
    last_use = {pid: n for n, pair in enumerate(todo) for pid in pair}
    thumbs: dict[int, Thumb | None] = {}
    confirmed: list[tuple[int, int]] = []

    def same(pair: tuple[int, int]) -> bool:
        ta, tb = thumbs[pair[0]], thumbs[pair[1]]
        return ta is not None and tb is not None and is_same_picture(ta, tb, search=False)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for start in range(0, len(todo), COPY_CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            chunk = todo[start : start + COPY_CHUNK]
            needed = sorted({i for pair in chunk for i in pair} - thumbs.keys())
            thumbs.update(zip(needed, pool.map(lambda i: _thumb(root / records[i].rel_path), needed), strict=True))
            confirmed += [pair for pair, ok in zip(chunk, pool.map(same, chunk), strict=True) if ok]
            end = start + len(chunk)
            for pid in [i for i in thumbs if last_use[i] < end]:
                del thumbs[pid]
            while len(thumbs) > THUMB_CACHE:  # bounded memory: the oldest is decoded again if needed
                del thumbs[next(iter(thumbs))]
            if progress:
                progress(end, len(todo))
    log.info("compared %d possible copies on pixels: %d confirmed", len(todo), len(confirmed))
    return tuple(confirmed), len(candidates), len(todo)


def _hashes_close(catalog: Catalog, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ``pairs`` that may be copies by their perceptual hashes (kept when one is missing)."""
    if not pairs:
        return pairs
    hashes = catalog.pixel_hashes(sorted({i for p in pairs for i in p}))
    known = [p for p in pairs if p[0] in hashes and p[1] in hashes]
    close = set()
    if known:
        a = np.array([hashes[x] for x, _ in known], dtype=np.int64)
        b = np.array([hashes[y] for _, y in known], dtype=np.int64)
        close = {p for p, d in zip(known, hash_distance(a, b), strict=True) if d <= COPY_HASH_MAX}
    log.info("perceptual hashes rule out %d of %d possible copies", len(known) - len(close), len(pairs))
    return [p for p in pairs if p in close or p[0] not in hashes or p[1] not in hashes]


# -- 2. groups ---------------------------------------------------------------------------------


def group_duplicates(graph: DuplicateGraph, catalog: Catalog, threshold: float) -> list[DuplicateGroup]:
    """Groups at ``threshold``, most members first. A member's label is IDENTICAL or
    SAME_PHOTO when the graph already knows it (identical file, confirmed copy of the
    keeper), else None until :func:`verify_labels`."""
    if threshold < graph.floor - 1e-9:
        raise ValueError(f"threshold {threshold} is below the graph's floor {graph.floor}")
    keep = graph.similarity >= threshold
    pairs_a, pairs_b, pair_sims = graph.a[keep], graph.b[keep], graph.similarity[keep]
    nodes = sorted(
        set(pairs_a.tolist())
        | set(pairs_b.tolist())
        | {i for s in graph.identical for i in s}
        | {i for p in graph.copies for i in p}
    )
    records = catalog.photos(nodes)
    got, mat = catalog.vectors([i for i in nodes if i in records])
    vec = dict(zip(got.tolist(), mat, strict=True))

    # Identical files and confirmed copies form one unit (the same picture), named by its
    # best photo: a unit always moves as a whole, whatever the threshold.
    parent = {i: i for i in vec}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for linked in (*graph.identical, *graph.copies):
        present = [i for i in linked if i in vec]
        for i in present[1:]:
            parent[find(i)] = find(present[0])
    members_of: dict[int, list[int]] = {}
    for i in vec:
        members_of.setdefault(find(i), []).append(i)
    units: dict[int, list[int]] = {}
    unit_of: dict[int, int] = {}
    for photos in members_of.values():
        photos.sort(key=lambda i: keeper_key(records[i]))
        units[photos[0]] = photos
        unit_of.update((i, photos[0]) for i in photos)
    identical_to = {i: set(s) for s in graph.identical for i in s}

    neighbours: dict[int, dict[int, float]] = {u: {} for u in units}
    for a, b, s in zip(pairs_a.tolist(), pairs_b.tolist(), pair_sims.tolist(), strict=True):
        ua, ub = unit_of.get(a), unit_of.get(b)
        if ua is None or ub is None or ua == ub:
            continue
        neighbours[ua][ub] = max(s, neighbours[ua].get(ub, -1.0))
        neighbours[ub][ua] = neighbours[ua][ub]

    grouped: set[int] = set()
    groups = []
    for centre in sorted(units, key=lambda u: keeper_key(records[u])):
        if centre in grouped:
            continue
        grouped.add(centre)
        chosen = [centre]
        for other, _ in sorted(neighbours[centre].items(), key=lambda kv: -kv[1]):
            if other in grouped:
                continue
            sims = np.array([float(vec[m] @ vec[other]) for m in chosen])
            if sims.min() >= threshold - LINK_SLACK and np.mean(sims >= threshold) >= 0.5:
                chosen.append(other)
                grouped.add(other)
        if len(chosen) == 1 and len(units[centre]) == 1:
            continue
        groups.append(_make_group(chosen, units, records, vec, identical_to, graph.root))
    groups.sort(key=lambda g: (-len(g.members), g.keeper.rel_path))
    return groups


def _make_group(
    chosen: list[int],
    units: dict[int, list[int]],
    records: dict[int, PhotoRecord],
    vec: dict[int, np.ndarray],
    identical_to: dict[int, set[int]],
    root: Path,
) -> DuplicateGroup:
    keeper_id = chosen[0]  # the centre: the best keeper of the group, as centres go best first
    members = []
    for unit in chosen:
        for pid in units[unit]:
            if pid == keeper_id:
                continue
            similarity = float(vec[keeper_id] @ vec[pid])
            label = None
            if unit == keeper_id:  # the keeper's own unit: its files, or confirmed copies of it
                label = IDENTICAL if pid in identical_to.get(keeper_id, ()) else SAME_PHOTO
            members.append(DuplicateMember(records[pid], str(root / records[pid].rel_path), similarity, label))
    members.sort(key=lambda m: (m.label != IDENTICAL, m.label != SAME_PHOTO, -m.similarity, m.photo.rel_path))
    keeper = records[keeper_id]
    return DuplicateGroup(keeper, str(root / keeper.rel_path), tuple(members))


# -- 3. labels ---------------------------------------------------------------------------------


def verify_labels(
    groups: list[DuplicateGroup],
    cache: dict[tuple[int, int], str] | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> list[DuplicateGroup]:
    """Label every unverified member "same photo" or "similar shot" by comparing pixels.

    ``cache`` maps (keeper id, member id) to a label and is filled in: regrouping at another
    threshold then only compares pairs it has not seen.
    """
    cache = {} if cache is None else cache
    total = sum(1 for g in groups for m in g.members if m.label is None)
    done = 0
    out = []
    for group in groups:
        keeper_thumb: Thumb | None = None  # None: unreadable (once loaded)
        keeper_loaded = False
        members = []
        for m in group.members:
            if m.label is None:
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                key = (group.keeper.id, m.photo.id)
                if key not in cache:
                    if not keeper_loaded:
                        keeper_thumb, keeper_loaded = _thumb(Path(group.keeper_path)), True
                    cache[key] = _label(keeper_thumb, _thumb(Path(m.abs_path)))
                m = replace(m, label=cache[key])
                done += 1
                if progress:
                    progress(done, total)
            members.append(m)
        out.append(replace(group, members=tuple(members)))
    return out


def _thumb(path: Path) -> Thumb | None:
    try:
        return load_thumb(path)
    except (LoadError, OSError) as exc:
        log.info("cannot compare %s: %s", path, exc)
        return None


def _label(keeper: Thumb | None, member: Thumb | None) -> str:
    # A photo that cannot be read cannot be verified: never claim it is the same photo.
    if keeper is None or member is None:
        return SIMILAR_SHOT
    return SAME_PHOTO if is_same_picture(keeper, member) else SIMILAR_SHOT


def label_pair(keeper: Path, member: Path) -> str:
    """The label ``member`` would get in a group kept by ``keeper``, whatever their similarity."""
    try:
        if keeper.stat().st_size == member.stat().st_size and file_hash(keeper) == file_hash(member):
            return IDENTICAL
    except OSError:
        return SIMILAR_SHOT
    return _label(_thumb(keeper), _thumb(member))


# -- all three ---------------------------------------------------------------------------------


def find_duplicates(
    catalog: Catalog,
    root: Path,
    threshold: float,
    folder: str = "",
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    find_copies: bool = True,
) -> list[DuplicateGroup]:
    """Groups of near-duplicates at ``threshold`` (cosine), labelled, most members first."""
    graph = build_graph(catalog, root, threshold, folder, cancel, progress, find_copies)
    return verify_labels(group_duplicates(graph, catalog, threshold), cancel=cancel)


class DuplicateFinder:
    """The duplicates of one library (or folder) at any threshold from ``floor`` up: candidate
    pairs are searched once and pixel labels remembered, so another threshold only regroups
    (well within a second) and checks only pairs it has not seen."""

    def __init__(self, catalog: Catalog, root: Path, floor: float, folder: str = "") -> None:
        self.catalog, self.root, self.floor, self.folder = catalog, root, floor, folder
        self._graph: DuplicateGraph | None = None
        self._labels: dict[tuple[int, int], str] = {}

    def groups(
        self, threshold: float, cancel: threading.Event | None = None, progress: Progress | None = None
    ) -> list[DuplicateGroup]:
        """Groups at ``threshold``, members not yet checked on pixels labelled None."""
        if self._graph is None:
            self._graph = build_graph(self.catalog, self.root, self.floor, self.folder, cancel, progress)
        return group_duplicates(self._graph, self.catalog, threshold)

    def label(
        self, groups: list[DuplicateGroup], cancel: threading.Event | None = None, progress: Progress | None = None
    ) -> list[DuplicateGroup]:
        return verify_labels(groups, self._labels, cancel, progress)
