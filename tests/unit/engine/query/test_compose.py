"""Combined queries against hand-computed vectors."""

from __future__ import annotations

import numpy as np
import pytest

from photosearch_desktop.engine.errors import LibraryError
from photosearch_desktop.engine.query.compose import combine
from photosearch_desktop.engine.query.weights import parse_weight


def test_two_photos_give_the_normalised_mean() -> None:
    got = combine(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(got, [2**-0.5, 2**-0.5, 0.0], atol=1e-6)


def test_a_negative_weight_subtracts() -> None:
    # 1 * [1, 0] - 0.5 * [0.6, 0.8] = [0.7, -0.4], whose length is sqrt(0.65).
    got = combine(np.array([[1.0, 0.0], [0.6, 0.8]]), np.array([1.0, -0.5]))
    np.testing.assert_allclose(got, np.array([0.7, -0.4]) / 0.65**0.5, atol=1e-6)


def test_weights_scale_each_term() -> None:
    got = combine(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([3.0, 1.0]))
    np.testing.assert_allclose(got, np.array([3.0, 1.0]) / 10**0.5, atol=1e-6)
    assert got.dtype == np.float32


def test_a_query_needs_something_to_look_for() -> None:
    with pytest.raises(LibraryError, match="at least one"):
        combine(np.array([[1.0, 0.0]]), np.array([-1.0]))
    with pytest.raises(LibraryError, match="cancel each other"):
        combine(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([1.0, -1.0]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2:at sunset", (2.0, "at sunset")),
        ("0.5: people", (0.5, "people")),
        ("sunset", (1.0, "sunset")),
        ("C:\\photos\\a.jpg", (1.0, "C:\\photos\\a.jpg")),  # a Windows path, not a weight
        ("3:", (1.0, "3:")),
    ],
)
def test_weight_prefix(text: str, expected: tuple[float, str]) -> None:
    assert parse_weight(text) == expected


@pytest.mark.parametrize("text", ["0:beach.jpg", "-1:people", "0.0: x", "nan:x", "inf:x"])
def test_a_weight_that_is_no_weight_is_refused(text: str) -> None:
    # Read as words or a file name, "0:beach.jpg" answered "The query photo 0:beach.jpg does not exist".
    with pytest.raises(LibraryError, match="must be a number above 0"):
        parse_weight(text)
