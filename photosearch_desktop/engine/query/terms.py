"""A query's terms as vectors: words through the text tower, images through the image tower,
library photos straight from the catalog (no model needed)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import Action, LibraryError, LoadError, hint
from ..media.loader import load_image, read_metadata
from ..models.base import Embedder, text_not_supported
from ..records import QueryTerm, SearchQuery
from ..store.catalog import Catalog


class TermVectors:
    """Turns terms into unit vectors for one library; the model is asked for only when a term
    needs it (a query of library photos alone never loads it)."""

    def __init__(
        self, catalog: Catalog, root: Path, model: Callable[[], Embedder], supports_text: bool, model_name: str
    ) -> None:
        self.catalog, self.root, self._model = catalog, root, model
        self.supports_text, self.model_name = supports_text, model_name

    def check(self, query: SearchQuery) -> None:
        """Refuse a query photo file that is no image, from its header (a millisecond), before
        the model is asked for: a query never waits for the model's start to be told that."""
        for term in query.terms:
            if term.kind == "file":
                path = Path(term.text).expanduser()
                try:
                    read_metadata(path)
                except LoadError as exc:
                    raise _query_photo_error(path, exc) from exc

    def vectors(self, query: SearchQuery) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        """(unit vectors, weights, ids of library photos the query names: left out of results)."""
        rows: list[np.ndarray] = []
        named: list[int] = []
        for term in query.terms:
            vector, photo_id = self._vector(term)
            rows.append(vector)
            if photo_id is not None:
                named.append(photo_id)
        weights = np.array([t.weight for t in query.terms], dtype=np.float32)
        return np.stack(rows), weights, tuple(dict.fromkeys(named))

    def _vector(self, term: QueryTerm) -> tuple[np.ndarray, int | None]:
        if term.kind == "photo":
            return self._photo(term)
        if term.kind == "text":
            if not self.supports_text:
                raise text_not_supported(self.model_name)
            return self._model().encode_text([term.text])[0], None
        if term.kind == "file":
            path = Path(term.text).expanduser().resolve()
            embedder = self._model()
            try:
                image = load_image(path, min_side=embedder.input_size).image
            except LoadError as exc:
                raise _query_photo_error(Path(term.text).expanduser(), exc) from exc
            inside = self._library_photo(path)
            return embedder.encode_images([image])[0], inside
        try:
            image = Image.open(io.BytesIO(term.pixels)).convert("RGB")
        except Exception as exc:  # noqa: BLE001 - any decoder complaint: the pasted data is unusable
            raise LoadError("corrupt", f"The pasted image cannot be read: {exc}") from exc
        return self._model().encode_images([image])[0], None

    def _photo(self, term: QueryTerm) -> tuple[np.ndarray, int]:
        """A library photo by id, or by path when the id is gone (a saved search, a re-index)."""
        photo = self.catalog.photo(term.photo_id) if term.photo_id is not None else None
        if photo is None or (term.text and photo.rel_path != term.text):
            photo = self.catalog.photo_by_path(term.text) or photo
        if photo is not None:
            ids, vectors = self.catalog.vectors([photo.id])
            if len(ids):
                return vectors[0], photo.id
        raise LibraryError(
            f"The photo {term.text or term.photo_id} is not in the index (it may have been moved, deleted or skipped).",
            hint(Action.CHECK_INPUT),
        )

    def _library_photo(self, path: Path) -> int | None:
        if not path.is_relative_to(self.root):
            return None
        photo = self.catalog.photo_by_path(path.relative_to(self.root).as_posix())
        return photo.id if photo else None


def _query_photo_error(path: Path, exc: LoadError) -> LoadError:
    return LoadError(exc.code, f"{exc.reason} (the query photo {path})")
