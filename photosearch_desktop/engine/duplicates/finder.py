"""Duplicate photos: copies of one picture, similar shots, and the photo to keep.

Two tiers (engine/records.py): *copies* (identical files, and the same picture resized,
re-encoded, cropped, recoloured or captioned) lose nothing when removed and are offered for
removal; *similar shots* (other pictures whose vectors are close) are shown, never chosen for
the person. Nothing is decoded: copies are told from other shots by the pixel signatures
stored at index time (engine/media/signature.py).

1. :func:`build_graph`:
   - similar shots: each photo's SIMILAR_NEIGHBOURS nearest photos by vector (exact
     inner-product search), kept at cosine >= the floor. A bounded number per photo: a
     threshold too low for a library, or a model that sees every photo alike, gives large
     groups, never a quadratic number of pairs;
   - identical files: same fingerprint and size, confirmed by hashing those files whole;
   - copies: each photo's COPY_NEIGHBOURS nearest photos (above a cosine floor), and the
     pairs whose perceptual hashes are close (found by 16-bit bands of the hash, whatever
     their vectors), compared on their signatures: a first look at 16 px for all of them
     (1 KB a photo), the full comparison for those it leaves. Confirmed copies stay together
     like identical files, whatever the threshold.
2. :func:`group_duplicates`: greedy, centre-based grouping at a threshold >= the floor (so a
   threshold slider regroups without searching again). Units (a photo, its identical files
   and confirmed copies) are taken best keeper first; each one not yet grouped becomes a
   centre and gathers its ungrouped neighbours, most similar first. A neighbour joins only if
   it is also close to the members already in (>= threshold to most of them, >= threshold -
   LINK_SLACK to every one), so A~B and B~C never pull an unrelated C into A's group. Each
   member is labelled against the keeper: "identical file", "same photo" (its signature shows
   a copy) or "similar shot".
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import faiss
import numpy as np

from ..errors import Cancelled, LoadError
from ..media.loader import load_image
from ..media.pixel_hash import hash_distance
from ..media.signature import DECODE_MIN_SIDE, Looks, Signatures, copy_margins, take_signature
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

log = logging.getLogger(__name__)

# A member may be a little less similar to other members than to the centre: two different
# edits of one photo (a crop and a rotation, say) are further apart than each is from the
# original. Unrelated photos are far below this margin.
LINK_SLACK = 0.05
SIMILAR_NEIGHBOURS = 24  # per photo, the most similar photos that may join its group
COPY_NEIGHBOURS = 4  # nearest photos per photo compared on signatures as possible copies
# Perceptual hashes this close (of 64 bits) make a pair worth comparing whatever its vectors:
# resized, re-encoded, recoloured and captioned copies of real photos differ by at most 12.
COPY_HASH_MAX = 12
HASH_BUCKET_MAX = 64  # photos sharing one 16-bit band of hash; more: a flat picture's hash
QUERY_CHUNK = 2048  # photos whose neighbours are searched at once
EXACT_NEIGHBOURS_MAX = 20_000  # photos; more: neighbours from an IVF index (_load_index)
NEIGHBOUR_PROBES = 8  # IVF cells scanned per photo
LOOK_CHUNK = 4096  # photos whose signatures are read at once for the first look
PREPARE_CHUNK = 2048  # photos prepared at once for the full comparison (~70 MB)
HASH_CHUNK = 1 << 20

Progress = Callable[[int, int], None]  # (done, total)

# The formats cameras and phones save originals in, kept over a JPEG copy of the same size.
ORIGINAL_FORMATS = frozenset({"HEIF", "TIFF", "PNG"})


@dataclass
class DuplicateGraph:
    """Candidate pairs of a library (or folder) at cosine >= ``floor``, and what is needed to
    label members later (first looks of every photo; labels already decided)."""

    floor: float
    root: Path
    a: np.ndarray  # photo ids: each pair (a[i], b[i]) once
    b: np.ndarray
    similarity: np.ndarray
    identical: tuple[tuple[int, ...], ...]  # sets of byte-identical files
    copies: tuple[tuple[int, int], ...] = ()  # pairs confirmed on signatures as the same picture
    copy_candidates: int = 0  # pairs considered as possible copies
    copy_comparisons: int = 0  # of those, compared in full (the first look left them)
    looks: Looks | None = None  # of every photo of ``ids``
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # sorted
    labels: dict[tuple[int, int], str] = field(default_factory=dict)  # (keeper, member) -> label


# -- the keeper ----------------------------------------------------------------------------------


def _metadata(photo: PhotoRecord) -> int:
    """How many of camera date, GPS position and camera model the photo carries."""
    dated = photo.taken_source is not None and photo.taken_source.startswith("exif")
    return int(dated) + int(photo.gps_lat is not None) + int(bool(photo.camera_model or photo.camera_make))


def keeper_key(photo: PhotoRecord) -> tuple[int, int, int, int, datetime, str]:
    """Sorts the photo to keep first (records.KEEPER_RULE; then the path, for determinism)."""
    pixels = (photo.width or 0) * (photo.height or 0)
    original = 0 if (photo.format or "").upper() in ORIGINAL_FORMATS else 1
    return (original, -pixels, -_metadata(photo), -photo.size, photo.taken_at or datetime.max, photo.rel_path)


def keeper_reason(keeper: PhotoRecord, others: Iterable[PhotoRecord]) -> str:
    """Why ``keeper`` comes before every other photo of its group, in words: the first step of
    the rule that tells it from the runner-up."""
    rest = sorted(others, key=keeper_key)
    if not rest:
        return "the only photo"
    runner = rest[0]
    k, r = keeper_key(keeper), keeper_key(runner)
    if k[0] != r[0]:
        return f"the original format ({keeper.format}), not a {runner.format or 'JPEG'} copy"
    if k[1] != r[1]:
        return f"the highest resolution ({_size(keeper)}; next best {_size(runner)})"
    if k[2] != r[2]:
        return f"at the same format and resolution, it carries {_carries(keeper)} (the next best: {_carries(runner)})"
    if k[3] != r[3]:
        return f"at the same format and resolution, the largest file ({keeper.size / 1e6:.2f} MB; next {runner.size / 1e6:.2f} MB)"
    if k[4] != r[4] and keeper.taken_at is not None:
        return f"all else equal, the earliest date ({keeper.taken_at:%Y-%m-%d %H:%M})"
    return "all else equal, the first by name"


def _carries(photo: PhotoRecord) -> str:
    facts = []
    if photo.taken_source is not None and photo.taken_source.startswith("exif"):
        facts.append("a camera date")
    if photo.gps_lat is not None:
        facts.append("GPS")
    if photo.camera_model or photo.camera_make:
        facts.append("the camera model")
    return ", ".join(facts) or "none of camera date, GPS, camera model"


def _size(photo: PhotoRecord) -> str:
    return f"{photo.width}×{photo.height}" if photo.width and photo.height else "size unknown"


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
    copy_floor: float = 0.5,
) -> DuplicateGraph:
    """Neighbour pairs with cosine >= ``floor`` among the indexed photos (of ``folder`` and
    below), identical files, and (``find_copies``) copies confirmed on signatures among each
    photo's nearest neighbours at cosine >= ``copy_floor`` (ModelSpec.copy_floor) and the
    pairs whose perceptual hashes are close."""
    ids = np.sort(catalog.filtered_ids(SearchFilters(folder=folder)))
    ids, index = _load_index(catalog, ids)
    n = len(ids)
    found_a, found_b, found_s = [], [], []
    near_a, near_b = [], []
    chunks = range(0, n, QUERY_CHUNK)
    for done, start in enumerate(chunks):
        _check(cancel)
        rows = index.reconstruct_n(start, min(QUERY_CHUNK, n - start))
        sims, cols = index.search(rows, min(n, SIMILAR_NEIGHBOURS + 1))
        me = np.arange(start, start + len(rows)).reshape(-1, 1)
        other = (cols >= 0) & (cols != me)
        r, c = np.nonzero(other & (sims >= floor))
        found_a.append(ids[np.minimum(me[r, 0], cols[r, c])])
        found_b.append(ids[np.maximum(me[r, 0], cols[r, c])])
        found_s.append(sims[r, c])
        if find_copies:
            rank = np.cumsum(other, axis=1)  # 1 for the nearest other photo
            r, c = np.nonzero(other & (rank <= COPY_NEIGHBOURS) & (sims >= copy_floor))
            near_a.append(ids[me[r, 0]])
            near_b.append(ids[cols[r, c]])
        if progress:
            progress(done + 1, len(chunks) + (1 if find_copies else 0))
    del index
    a, b, s = _unique_pairs(found_a, found_b, found_s)
    identical = _identical_sets(catalog, root, set(ids.tolist()), cancel)
    graph = DuplicateGraph(floor, root, a, b, s, identical)
    if find_copies:
        graph.looks, graph.ids = _looks(catalog, ids, cancel), ids
        near = np.stack(_unique_pairs(near_a, near_b)[:2], axis=1)
        pairs = np.unique(np.concatenate([near, _hash_pairs(catalog, ids)]), axis=0)
        same_file = {i: k for k, members in enumerate(identical) for i in members}
        pairs = np.array([p for p in pairs.tolist() if same_file.get(p[0], -1) != same_file.get(p[1], -2)],
                         dtype=np.int64).reshape(-1, 2)
        confirmed, compared = _copies(catalog, graph, pairs, cancel, identical)
        graph.copies = tuple((int(x), int(y)) for x, y in pairs[confirmed])
        graph.copy_candidates, graph.copy_comparisons = len(pairs), compared
        if progress:
            progress(len(chunks) + 1, len(chunks) + 1)
    log.info(
        "duplicate candidates among %d photos: %d neighbour pairs >= %.3f, %d identical sets, "
        "%d possible copies, %d compared in full, %d confirmed",
        n, len(a), floor, len(identical), graph.copy_candidates, graph.copy_comparisons, len(graph.copies),
    )
    return graph


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled


def _load_index(catalog: Catalog, ids: np.ndarray) -> tuple[np.ndarray, faiss.Index]:
    """(ids that have a vector, an inner-product index of their vectors in that order),
    filled a chunk at a time: the index holds the only full copy.

    Each photo's neighbours are searched among all photos: exact search costs n^2 (1.2 s at
    10,000 photos, ~2 min at 100,000 on 2 cores, scripts/bench_dupes.py speed). Above
    EXACT_NEIGHBOURS_MAX photos an IVF index scans NEIGHBOUR_PROBES of its ~4 sqrt(n) cells
    per photo instead; copies and similar shots are close enough to share a cell or the next.
    """
    out_ids = []
    index: faiss.IndexFlatIP | None = None
    for start in range(0, len(ids), 10_000):
        got, vecs = catalog.vectors(ids[start : start + 10_000].tolist())
        if index is None:
            index = faiss.IndexFlatIP(vecs.shape[1] or 1)
        if len(got):
            index.add(np.ascontiguousarray(vecs, dtype=np.float32))
            out_ids.append(got)
    if index is None:
        index = faiss.IndexFlatIP(1)
    found = np.concatenate(out_ids) if out_ids else np.zeros(0, np.int64)
    if index.ntotal <= EXACT_NEIGHBOURS_MAX:
        return found, index
    n, d = index.ntotal, index.d
    vectors = faiss.rev_swig_ptr(index.get_xb(), n * d).reshape(n, d)  # a view of the flat index
    nlist = int(4 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, size=min(n, 40 * nlist), replace=False)
    ivf.train(np.ascontiguousarray(vectors[np.sort(sample)]))
    for start in range(0, n, 10_000):
        ivf.add(np.ascontiguousarray(vectors[start : start + 10_000]))
    ivf.nprobe = NEIGHBOUR_PROBES
    ivf.make_direct_map()  # reconstruct_n, for the query rows
    del vectors, index
    return found, ivf


def _unique_pairs(
    a: list[np.ndarray], b: list[np.ndarray], s: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (min id, max id) once each (with their similarity, when given)."""
    if not a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    x, y = np.concatenate(a), np.concatenate(b)
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    sims = np.concatenate(s) if s else np.zeros(len(lo), np.float32)
    _, first = np.unique(np.stack([lo, hi], axis=1), axis=0, return_index=True)
    return lo[first], hi[first], sims[first]


def _hash_pairs(catalog: Catalog, ids: np.ndarray) -> np.ndarray:
    """Pairs (min id, max id) whose perceptual hashes differ by at most COPY_HASH_MAX bits:
    those sharing one of the four 16-bit bands of the hash (multi-index hashing), checked."""
    hashes = catalog.pixel_hashes(ids.tolist())
    if len(hashes) < 2:
        return np.zeros((0, 2), np.int64)
    hid = np.fromiter(hashes.keys(), dtype=np.int64, count=len(hashes))
    hv = np.fromiter(hashes.values(), dtype=np.int64, count=len(hashes)).view(np.uint64)
    found = []
    for band in range(4):
        key = (hv >> np.uint64(16 * band)) & np.uint64(0xFFFF)
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        for members in np.split(order, bounds):
            if 1 < len(members) <= HASH_BUCKET_MAX:
                x, y = np.triu_indices(len(members), 1)
                found.append(np.stack([members[x], members[y]], axis=1))
    if not found:
        return np.zeros((0, 2), np.int64)
    pos = np.unique(np.sort(np.concatenate(found), axis=1), axis=0)
    close = hash_distance(hv[pos[:, 0]].view(np.int64), hv[pos[:, 1]].view(np.int64)) <= COPY_HASH_MAX
    return np.sort(hid[pos[close]], axis=1)


def _looks(catalog: Catalog, ids: np.ndarray, cancel: threading.Event | None) -> Looks:
    """First looks of every photo, their signatures read a chunk at a time (1 KB a photo kept)."""
    records = catalog.photos(ids.tolist())
    parts = []
    for start in range(0, len(ids), LOOK_CHUNK):
        _check(cancel)
        chunk = ids[start : start + LOOK_CHUNK].tolist()
        blobs = catalog.signatures(chunk)
        parts.append(Looks.of(
            [blobs.get(i) for i in chunk],
            [(records[i].width, records[i].height) if i in records else (None, None) for i in chunk],
        ))
    return Looks.concatenate(parts)


def _copies(
    catalog: Catalog,
    graph: DuplicateGraph,
    pairs: np.ndarray,
    cancel: threading.Event | None,
    linked: tuple[tuple[int, ...], ...] = (),
) -> tuple[np.ndarray, int]:
    """Which ``pairs`` (of photo ids) are copies, and how many the first look left for a full
    comparison. Photos are prepared a chunk at a time; in each chunk the same framing is
    decided for all pairs at once, then the costlier hypotheses (a turned copy, a crop) only
    for pairs whose photos no copy (nor ``linked``: identical files) joins yet: one such
    comparison per copy is enough to join it to its picture, and a pair already joined is a
    copy through the others."""
    out = np.zeros(len(pairs), dtype=bool)
    if not len(pairs) or graph.looks is None or not len(graph.ids):
        return out, 0
    pos = np.minimum(np.searchsorted(graph.ids, pairs), len(graph.ids) - 1)
    known = np.flatnonzero((graph.ids[pos] == pairs).all(axis=1))
    left = known[graph.looks.pairs(pos[known, 0], pos[known, 1])]
    left = left[np.lexsort((pairs[left, 1], pairs[left, 0]))]  # a chunk's pairs share photos
    joined = _UnionFind(linked)
    start = 0
    while start < len(left):
        _check(cancel)
        photos: set[int] = set()
        end = start
        while end < len(left) and len(photos) < PREPARE_CHUNK:
            photos.update(pairs[left[end]].tolist())
            end += 1
        chunk = left[start:end]
        ordered = sorted(photos)
        row = {pid: k for k, pid in enumerate(ordered)}
        blobs = catalog.signatures(ordered)
        records = catalog.photos(ordered)
        sigs = Signatures(
            [blobs.get(pid) for pid in ordered],
            [(records[pid].width, records[pid].height) if pid in records else (None, None) for pid in ordered],
        )
        i = np.array([row[x] for x in pairs[chunk, 0].tolist()], dtype=np.int64)
        j = np.array([row[y] for y in pairs[chunk, 1].tolist()], dtype=np.int64)
        out[chunk] = sigs.same(i, j, others=False)
        for p in chunk[out[chunk]]:
            joined.union(*pairs[p].tolist())
        for k in np.flatnonzero(~out[chunk]):
            p = chunk[k]
            a, b = pairs[p].tolist()
            if joined.find(a) == joined.find(b) or sigs.same(i[k : k + 1], j[k : k + 1], framing=False)[0]:
                out[p] = True
                joined.union(a, b)
        start = end
    return out, len(left)


class _UnionFind:
    def __init__(self, linked: Iterable[Iterable[int]] = ()) -> None:
        self.parent: dict[int, int] = {}
        for group in linked:
            first, *rest = group
            for other in rest:
                self.union(first, other)

    def find(self, i: int) -> int:
        self.parent.setdefault(i, i)
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


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
            _check(cancel)
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


# -- 2. groups ---------------------------------------------------------------------------------


def group_duplicates(
    graph: DuplicateGraph, catalog: Catalog, threshold: float, cancel: threading.Event | None = None
) -> list[DuplicateGroup]:
    """Labelled groups at ``threshold``, most members first."""
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
    row = {int(pid): k for k, pid in enumerate(got.tolist())}

    # Identical files and confirmed copies form one unit (the same picture), named by its
    # best photo: a unit always moves as a whole, whatever the threshold.
    parent = {i: i for i in row}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for linked in (*graph.identical, *graph.copies):
        present = [i for i in linked if i in row]
        for i in present[1:]:
            parent[find(i)] = find(present[0])
    members_of: dict[int, list[int]] = {}
    for i in row:
        members_of.setdefault(find(i), []).append(i)
    units: dict[int, list[int]] = {}
    unit_of: dict[int, int] = {}
    for photos in members_of.values():
        photos.sort(key=lambda i: keeper_key(records[i]))
        units[photos[0]] = photos
        unit_of.update((i, photos[0]) for i in photos)

    neighbours: dict[int, dict[int, float]] = {u: {} for u in units}
    for a, b, s in zip(pairs_a.tolist(), pairs_b.tolist(), pair_sims.tolist(), strict=True):
        ua, ub = unit_of.get(a), unit_of.get(b)
        if ua is None or ub is None or ua == ub:
            continue
        if s > neighbours[ua].get(ub, -1.0):
            neighbours[ua][ub] = neighbours[ub][ua] = s

    grouped: set[int] = set()
    chosen_groups: list[list[int]] = []
    for centre in sorted(units, key=lambda u: keeper_key(records[u])):
        if centre in grouped:
            continue
        _check(cancel)
        grouped.add(centre)
        chosen = [centre]
        inside = mat[[row[centre]]]
        for other, _ in sorted(neighbours[centre].items(), key=lambda kv: -kv[1]):
            if other in grouped:
                continue
            sims = inside @ mat[row[other]]
            if sims.min() >= threshold - LINK_SLACK and np.mean(sims >= threshold) >= 0.5:
                chosen.append(other)
                grouped.add(other)
                inside = np.vstack([inside, mat[row[other]]])
        if len(chosen) > 1 or len(units[centre]) > 1:
            chosen_groups.append(chosen)
    labels = _labels(graph, catalog, chosen_groups, units, cancel)
    groups = [_make_group(chosen, units, records, mat, row, labels, graph) for chosen in chosen_groups]
    groups.sort(key=lambda g: (-len(g.members), g.keeper.rel_path))
    return groups


def _labels(
    graph: DuplicateGraph,
    catalog: Catalog,
    chosen_groups: list[list[int]],
    units: dict[int, list[int]],
    cancel: threading.Event | None,
) -> dict[tuple[int, int], str]:
    """The label of each unit's photos against the unit's best photo, and of every other
    unit's best photo against the group's keeper (from the graph's memory or the signatures:
    it may still be a copy that no candidate pair found)."""
    identical_to = {i: set(s) for s in graph.identical for i in s}
    todo = []
    for chosen in chosen_groups:
        for unit in chosen:
            for pid in units[unit][1:]:
                graph.labels[(unit, pid)] = IDENTICAL if pid in identical_to.get(unit, ()) else SAME_PHOTO
        todo += [(chosen[0], unit) for unit in chosen[1:] if (chosen[0], unit) not in graph.labels]
    if todo:
        same = _copies(catalog, graph, np.array(todo, dtype=np.int64), cancel)[0]
        for pair, copy in zip(todo, same.tolist(), strict=True):
            graph.labels[pair] = SAME_PHOTO if copy else SIMILAR_SHOT
    return graph.labels


def _make_group(
    chosen: list[int],
    units: dict[int, list[int]],
    records: dict[int, PhotoRecord],
    mat: np.ndarray,
    row: dict[int, int],
    labels: dict[tuple[int, int], str],
    graph: DuplicateGraph,
) -> DuplicateGroup:
    keeper_id = chosen[0]  # the centre: the best keeper of the group, as centres go best first

    def member(pid: int, label: str, copy_of: str = "") -> DuplicateMember:
        photo = records[pid]
        similarity = float(mat[row[keeper_id]] @ mat[row[pid]])
        return DuplicateMember(photo, str(graph.root / photo.rel_path), similarity, label, copy_of)

    copies = [member(pid, labels[(keeper_id, pid)]) for pid in units[keeper_id][1:]]
    shots: list[list[DuplicateMember]] = []
    for unit in chosen[1:]:
        if labels.get((keeper_id, unit)) == SAME_PHOTO:  # a copy of the keeper after all, with its own copies
            copies += [member(pid, SAME_PHOTO) for pid in units[unit]]
        else:
            head = member(unit, SIMILAR_SHOT)
            shots.append([head] + [member(pid, labels[(unit, pid)], records[unit].rel_path) for pid in units[unit][1:]])
    copies.sort(key=lambda m: (m.label != IDENTICAL, -m.similarity, m.photo.rel_path))
    shots.sort(key=lambda unit: (-unit[0].similarity, unit[0].photo.rel_path))
    members = copies + [m for unit in shots for m in unit]
    keeper = records[keeper_id]
    reason = keeper_reason(keeper, (m.photo for m in members))
    return DuplicateGroup(keeper, str(graph.root / keeper.rel_path), tuple(members), reason)


# -- helpers for scripts and tests ----------------------------------------------------------------


def label_pair(keeper: Path, member: Path) -> str:
    """The label ``member`` would get in a group kept by ``keeper``, whatever their similarity
    (decodes both: for checks and benchmarks, never used by the finder)."""
    try:
        if keeper.stat().st_size == member.stat().st_size and file_hash(keeper) == file_hash(member):
            return IDENTICAL
        loaded = [load_image(p, min_side=DECODE_MIN_SIDE) for p in (keeper, member)]
    except (LoadError, OSError):
        return SIMILAR_SHOT  # a photo that cannot be read cannot be verified
    blobs = [take_signature(x.image) for x in loaded]
    sizes = [(x.meta.width, x.meta.height) for x in loaded]
    return SAME_PHOTO if copy_margins(blobs, sizes, np.array([0]), np.array([1]))[0] >= 0 else SIMILAR_SHOT


# -- all together --------------------------------------------------------------------------------


def find_duplicates(
    catalog: Catalog,
    root: Path,
    threshold: float,
    folder: str = "",
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    find_copies: bool = True,
    copy_floor: float = 0.5,
) -> list[DuplicateGroup]:
    """Labelled groups of duplicates at ``threshold`` (cosine), most members first."""
    graph = build_graph(catalog, root, threshold, folder, cancel, progress, find_copies, copy_floor)
    return group_duplicates(graph, catalog, threshold, cancel)


class DuplicateFinder:
    """The duplicates of one library (or folder) at any threshold from ``floor`` up: candidate
    pairs and copies are found once, so another threshold only regroups (well within a
    second) and labels only the pairs it has not seen."""

    def __init__(self, catalog: Catalog, root: Path, floor: float, folder: str = "", copy_floor: float = 0.5) -> None:
        self.catalog, self.root, self.floor, self.folder, self.copy_floor = catalog, root, floor, folder, copy_floor
        self._graph: DuplicateGraph | None = None

    def groups(
        self, threshold: float, cancel: threading.Event | None = None, progress: Progress | None = None
    ) -> list[DuplicateGroup]:
        """Labelled groups at ``threshold``."""
        if self._graph is None:
            self._graph = build_graph(
                self.catalog, self.root, self.floor, self.folder, cancel, progress, copy_floor=self.copy_floor
            )
        return group_duplicates(self._graph, self.catalog, threshold, cancel)
