"""The warnings that the window's tests cause on purpose, declared here rather than with
``@pytest.mark.expect_log`` in the test files (see logfail in tests/conftest.py): those files
are kept as they are while the window is being rewritten. Whoever rewrites a test moves its
entry onto it as a marker."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

EXPECTED_LOGS: dict[str, tuple[str, ...]] = {
    # test_gui.py: the model process is killed under the window while it indexes.
    "test_model_process_killed_while_indexing_is_explained_and_recovers": (
        r"^The model process stopped unexpectedly \(ended by signal 9",
        r"^indexing failed: The model process stopped unexpectedly \(ended by signal 9",
    ),
    # test_gui.py: a model whose weights cannot be downloaded (the network is refused).
    "test_model_switch_is_confirmed_and_download_failure_is_explained": (
        r"^model clip-vit-b-32 failed to load: The weights of clip-vit-b-32 .* could not be downloaded",
        r"^indexing failed: The weights of clip-vit-b-32 .* could not be downloaded",
    ),
    # test_gui.py: opening a folder that is gone.
    "test_missing_folder_is_explained": (
        r"^could not open .*gone: The photo folder .*gone does not exist or is not a folder\.$",
    ),
    # test_gui.py: an exception the window did not expect, raised by the test (logged with its traceback).
    "test_unexpected_errors_become_a_plain_message": (
        r"^unexpected error:\n(?s:.*)ValueError: the flux capacitor is empty",
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        patterns = EXPECTED_LOGS.get(getattr(item, "originalname", item.name))
        if patterns and item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.expect_log(*patterns))
