"""Richer questions through the facade: several photos, words and photos, "not this", saved
searches and browsing, with the tiny CLIP model (real open_clip code, random weights)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from libgen import LAYOUT, make_library, picture, write_photo
from whitebox import catalog_of

from photosearch_desktop.engine.errors import LibraryError
from photosearch_desktop.engine.library import Library, pixels_term
from photosearch_desktop.engine.records import QueryTerm, SearchFilters, SearchQuery


@pytest.fixture
def library(tmp_path: Path, tiny_clip: tuple[str, Path, Path], data_dir: Path) -> Library:
    name, weights, _ = tiny_clip
    lib = Library(make_library(tmp_path / "Pictures"), data_dir=data_dir, model=name, weights=weights)
    lib.index()
    yield lib
    lib.close()


def photo_term(lib: Library, rel: str, weight: float = 1.0) -> QueryTerm:
    photo = lib.photo_by_path(rel)
    assert photo is not None
    return QueryTerm("photo", rel, photo_id=photo.id, weight=weight)


def vector_of(lib: Library, rel: str) -> np.ndarray:
    photo = lib.photo_by_path(rel)
    assert photo is not None
    return catalog_of(lib).vectors([photo.id])[1][0]


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def ranking(results) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(r.photo.rel_path, round(r.score, 5)) for r in results]


def test_several_photos_search_with_their_normalised_mean(library: Library) -> None:
    a, b = "2019/Trips/trip_00.jpg", "2020/home_03.jpg"
    got = library.search(SearchQuery((photo_term(library, a), photo_term(library, b))), k=10)
    ids = tuple(library.photo_by_path(p).id for p in (a, b))  # type: ignore[union-attr]
    expected = library.search_vector(unit(vector_of(library, a) + vector_of(library, b)), k=10, exclude=ids)
    assert ranking(got) == ranking(expected)
    assert a not in [r.photo.rel_path for r in got] and b not in [r.photo.rel_path for r in got]


def test_not_this_photo_subtracts_it_and_leaves_it_out(library: Library) -> None:
    a, avoid = "2019/Home/home_01.jpg", "2019/Home/home_02.jpg"
    query = SearchQuery((photo_term(library, a), photo_term(library, avoid, weight=-0.5)))
    got = library.search(query, k=len(LAYOUT))
    ids = tuple(library.photo_by_path(p).id for p in (a, avoid))  # type: ignore[union-attr]
    expected = library.search_vector(unit(vector_of(library, a) - 0.5 * vector_of(library, avoid)), k=len(LAYOUT),
                                     exclude=ids)
    assert ranking(got) == ranking(expected)
    plain = [r.photo.rel_path for r in library.search(SearchQuery((photo_term(library, a),)), k=len(LAYOUT))]
    assert avoid in plain and avoid not in [r.photo.rel_path for r in got]


def test_words_and_a_photo_together(library: Library) -> None:
    a = "2019/Trips/trip_03.jpg"
    query = SearchQuery((photo_term(library, a), QueryTerm("text", "a red car", weight=2.0)))
    got = library.search(query, k=5)
    text = library.embedder().encode_text(["a red car"])[0]
    photo_id = library.photo_by_path(a).id  # type: ignore[union-attr]
    expected = library.search_vector(unit(vector_of(library, a) + 2.0 * text), k=5, exclude=(photo_id,))
    assert ranking(got) == ranking(expected)


def test_image_files_and_pasted_pixels_are_terms_too(library: Library, tmp_path: Path) -> None:
    outside = write_photo(tmp_path / "outside.jpg", seed=101)
    by_file = library.search(SearchQuery((QueryTerm("file", str(outside)),)), k=3)
    by_pixels = library.search(SearchQuery((pixels_term(picture(101)),)), k=3)
    assert by_file[0].photo.rel_path == by_pixels[0].photo.rel_path == "2019/Trips/trip_01.jpg"
    with pytest.raises(LibraryError, match="at least one"):
        library.search(SearchQuery((QueryTerm("file", str(outside), weight=-1.0),)))


def test_a_saved_search_keeps_terms_and_filters_and_runs_again(library: Library) -> None:
    query = SearchQuery((photo_term(library, "2019/Trips/trip_00.jpg"), QueryTerm("text", "beach", weight=-0.5),
                         pixels_term(picture(300))))
    filters = SearchFilters(folder="2019", date_from=datetime(2019, 7, 1), collapse_duplicates=True)
    library.save_search("summer", query, filters)
    library.save_search("other", SearchQuery((QueryTerm("text", "dog"),)), SearchFilters())
    assert [s.name for s in library.saved_searches()] == ["other", "summer"]
    saved = library.saved_search("summer")
    assert saved.query == query and saved.filters == filters
    assert ranking(library.search(saved.query, 8, saved.filters)) == ranking(library.search(query, 8, filters))

    library.rename_search("summer", "Summer 2019")
    with pytest.raises(LibraryError):
        library.rename_search("other", "Summer 2019")  # taken
    library.delete_search("other")
    assert [s.name for s in library.saved_searches()] == ["Summer 2019"]
    with pytest.raises(LibraryError, match="no saved search"):
        library.saved_search("other")


def test_saved_searches_survive_reopening(library: Library, tiny_clip: tuple[str, Path, Path], data_dir: Path) -> None:
    library.save_search("kept", SearchQuery((QueryTerm("text", "a cat"),)), SearchFilters(folder="2020"))
    name, weights, _ = tiny_clip
    again = Library(library.root, data_dir=data_dir, model=name, weights=weights)
    try:
        assert [s.name for s in again.saved_searches()] == ["kept"]
    finally:
        again.close()


def test_browse_is_newest_first_within_a_folder_and_under_dates(library: Library) -> None:
    def paths(ids: np.ndarray) -> list[str]:
        records = library.photos(ids.tolist())
        return [records[i].rel_path for i in ids.tolist()]

    ids = library.browse()
    records = library.photos(ids.tolist())
    assert len(ids) == len(LAYOUT)
    # Newest first by capture date; photos without one (the scans) by their file's date.
    dates = [records[i].taken_at for i in ids.tolist()]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    oldest = library.browse(order="oldest")
    assert sorted(oldest.tolist()) == sorted(ids.tolist())
    assert [records[i].taken_at for i in oldest.tolist()] == sorted(dates)  # type: ignore[type-var]
    trips = paths(library.browse(SearchFilters(folder="2019")))
    assert set(trips) == {rel for rel, _, _ in LAYOUT if rel.startswith("2019/")}
    summer = paths(library.browse(SearchFilters(date_from=datetime(2019, 7, 1), date_to=datetime(2019, 7, 31, 23, 59))))
    assert set(summer) == {rel for rel, _, taken in LAYOUT if taken and taken.startswith("2019:07")}
    by_name = paths(library.browse(order="name"))
    assert [p.rsplit("/", 1)[-1] for p in by_name] == sorted(p.rsplit("/", 1)[-1] for p, _, _ in LAYOUT)
    assert library.capture_date_range() == (datetime(2019, 7, 1, 12), datetime(2020, 3, 6, 18))


def test_photos_are_browsable_as_soon_as_they_are_found(tmp_path: Path, data_dir: Path) -> None:
    """Before the model has seen them (a model that cannot be loaded, say)."""
    root = make_library(tmp_path / "lib")
    lib = Library(root, data_dir=data_dir, model="clip:no-such-architecture", weights=tmp_path / "missing.pt")
    try:
        with pytest.raises(Exception):  # noqa: B017 - the model cannot load; the scan was saved before
            lib.index()
        assert len(lib.browse()) == len(LAYOUT)
        assert lib.counts()["pending"] == len(LAYOUT)
    finally:
        lib.close()
