"""Saved searches as JSON: the query's terms and the filters, with a version for later changes."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from ..errors import Action, LibraryError, hint
from ..records import QueryTerm, SavedSearch, SearchFilters, SearchQuery

VERSION = 1
_DATES = ("date_from", "date_to")


def encode(query: SearchQuery, filters: SearchFilters) -> str:
    terms = []
    for t in query.terms:
        term: dict[str, Any] = {"kind": t.kind, "text": t.text, "weight": t.weight}
        if t.photo_id is not None:
            term["photo_id"] = t.photo_id
        if t.pixels:
            term["pixels"] = base64.b64encode(t.pixels).decode("ascii")
        terms.append(term)
    f = asdict(filters)
    for key in _DATES:
        f[key] = f[key].isoformat() if f[key] is not None else None
    return json.dumps({"version": VERSION, "terms": terms, "filters": f})


def decode(name: str, spec: str, saved_at: float) -> SavedSearch:
    try:
        doc = json.loads(spec)
        terms = tuple(
            QueryTerm(
                kind=t["kind"],
                text=t.get("text", ""),
                photo_id=t.get("photo_id"),
                pixels=base64.b64decode(t["pixels"]) if t.get("pixels") else b"",
                weight=float(t.get("weight", 1.0)),
            )
            for t in doc["terms"]
        )
        f = dict(doc.get("filters", {}))
        for key in _DATES:
            f[key] = datetime.fromisoformat(f[key]) if f.get(key) else None
        filters = SearchFilters(**{k: v for k, v in f.items() if k in SearchFilters.__dataclass_fields__})
    except (ValueError, KeyError, TypeError) as exc:
        raise LibraryError(f"The saved search '{name}' cannot be read ({exc}).", hint(Action.CHECK_INPUT)) from exc
    return SavedSearch(name, SearchQuery(terms), filters, datetime.fromtimestamp(saved_at))
