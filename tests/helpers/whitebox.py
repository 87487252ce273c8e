"""White-box access to a Library's parts, for tests and measurement scripts only: the window
and the command line see the facade alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photosearch_desktop.engine.library import Library
    from photosearch_desktop.engine.models.base import Embedder
    from photosearch_desktop.engine.store.catalog import Catalog
    from photosearch_desktop.engine.store.index_cache import IndexCache
    from photosearch_desktop.engine.store.vector_index import VectorIndex


def catalog_of(lib: Library) -> Catalog:
    return lib._catalog


def index_of(lib: Library) -> VectorIndex:
    """The loaded vector index (loaded or rebuilt now if needed)."""
    return lib._index.get()


def index_cache_of(lib: Library) -> IndexCache:
    return lib._index


def use_embedder(lib: Library, embedder: Embedder) -> None:
    """Give the library a model loaded earlier (a benchmark times indexing, not the load)."""
    lib._model._embedder = embedder
