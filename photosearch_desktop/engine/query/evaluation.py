"""Retrieval quality of an indexed library against known groups of related photos.

Every labelled photo is a query; the other members of its group are the relevant answers,
and the query itself is left out of its ranking (as "more like this" does). The ranking is
exact cosine similarity over every indexed photo: photos without a label take part as
distractors. Metrics, averaged over queries:

- precision@k and recall@k for k in KS;
- mAP: mean average precision over the whole ranking;
- N-S score (UKBench): the number of group members in the top 4 with the query counted as its
  own first hit, i.e. 1 + relevant photos in the top 3 (4.0 is perfect for groups of 4).
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import Action, EvaluationError, hint
from ..records import EvaluationReport, SearchFilters
from ..store.catalog import Catalog

log = logging.getLogger(__name__)

KS = (1, 4, 10)
NS_DEPTH = 3  # N-S: top 4 counting the query itself, so 3 answers
QUERY_BATCH = 256  # queries per matrix product: 256 x photos float32 scores


def read_groups(path: Path, catalog: Catalog) -> tuple[dict[int, str], list[str]]:
    """Photo id -> group id from a ``filename,group_id`` CSV, and the names not found.

    A filename is matched as a path relative to the library, then relative to its
    ``images/`` folder (UKBench's layout), then by file name alone when exactly one indexed
    photo has that name.
    """
    indexed = {p: k.id for p, k in catalog.known_files().items() if k.status == "indexed" and not k.offline}
    by_name: dict[str, list[int]] = defaultdict(list)
    for rel, photo_id in indexed.items():
        by_name[PurePosixPath(rel).name].append(photo_id)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"filename", "group_id"} <= set(reader.fieldnames):
                raise EvaluationError(f"{path} needs a header line with the columns filename,group_id.", hint(Action.CHECK_INPUT))
            rows = [(r["filename"].strip().replace("\\", "/"), r["group_id"].strip()) for r in reader]
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"{path} is not a text CSV file: {exc}", hint(Action.CHECK_INPUT)) from exc
    groups: dict[int, str] = {}
    unmatched: list[str] = []
    for name, group in rows:
        rel = name.removeprefix("./")
        pid: int | None = indexed.get(rel) or indexed.get(f"images/{rel}")
        if pid is None and len(by_name.get(PurePosixPath(rel).name, [])) == 1:
            pid = by_name[PurePosixPath(rel).name][0]
        if pid is None:
            unmatched.append(name)
        else:
            groups[pid] = group
    if not groups:
        raise EvaluationError(f"No row of {path} names an indexed photo of this library.", hint(Action.CHECK_INPUT))
    if unmatched:
        log.warning("%d rows of %s name no indexed photo, e.g. %s", len(unmatched), path, unmatched[0])
    return groups, unmatched


def evaluate(catalog: Catalog, groups: dict[int, str], unmatched: list[str] | None = None) -> EvaluationReport:
    """Metrics over every labelled photo whose group has another indexed member."""
    ids, vectors = catalog.vectors(np.sort(catalog.filtered_ids(SearchFilters())).tolist())
    position = {int(pid): row for row, pid in enumerate(ids)}
    members: dict[str, list[int]] = defaultdict(list)
    for pid, group in groups.items():
        if pid in position:
            members[group].append(position[pid])
    queries = [(row, g) for g, rows in members.items() if len(rows) > 1 for row in rows]
    if not queries:
        raise EvaluationError("No group has two indexed photos: nothing to evaluate.", hint(Action.CHECK_INPUT))
    depth = max(*KS, NS_DEPTH)
    hits_at: dict[int, list[int]] = {k: [] for k in (*KS, NS_DEPTH)}  # relevant photos in the top k
    relevant_counts, average_precisions = [], []
    for start in range(0, len(queries), QUERY_BATCH):
        batch = queries[start : start + QUERY_BATCH]
        scores = vectors[[row for row, _ in batch]] @ vectors.T
        for line, (row, group) in zip(scores, batch, strict=True):
            line[row] = -np.inf  # the query is not its own answer
            relevant = np.array([r for r in members[group] if r != row])
            is_relevant = np.isin(np.argsort(-line, kind="stable")[:depth], relevant)
            for k in hits_at:
                hits_at[k].append(int(is_relevant[:k].sum()))
            # Rank of each relevant photo = 1 + photos scoring higher; AP from those ranks.
            ranks = np.sort([1 + int((line > line[r]).sum()) for r in relevant])
            average_precisions.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
            relevant_counts.append(len(relevant))
    counts = np.array(relevant_counts, dtype=np.float64)
    return EvaluationReport(
        queries=len(queries),
        photos=len(ids),
        groups=sum(1 for rows in members.values() if len(rows) > 1),
        precision={k: float(np.mean(np.array(hits_at[k]) / k)) for k in KS},
        recall={k: float(np.mean(np.array(hits_at[k]) / counts)) for k in KS},
        mean_average_precision=float(np.mean(average_precisions)),
        ns_score=float(np.mean(1 + np.array(hits_at[NS_DEPTH]))),
        unmatched=tuple(unmatched or ()),
    )
