"""The logfail check of tests/conftest.py, run by pytest (pytester, in this process) on a test
file of its own next to a copy of the real conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

INNER = '''
import logging
import threading

import pytest

log = logging.getLogger("photosearch_desktop.selftest")


def test_info_is_fine():
    log.info("logfail self-test: info")


def test_unexpected_warning():
    log.warning("logfail self-test: unexpected")


def test_unexpected_error_from_another_thread():
    thread = threading.Thread(target=lambda: log.error("logfail self-test: from a thread"), name="worker")
    thread.start()
    thread.join()


def test_the_root_logger_counts():
    logging.warning("logfail self-test: root")


def test_the_command_line_logger_counts():
    logging.getLogger("photosearch").warning("logfail self-test: command line")


def test_a_third_party_logger_is_left_alone():
    logging.getLogger("open_clip").warning("logfail self-test: third party")


@pytest.mark.expect_log(r"self-test: expected \\d+$")
def test_a_declared_warning_is_fine():
    log.warning("logfail self-test: expected %d", 42)


@pytest.mark.expect_log(r"something else")
def test_a_pattern_covers_only_what_it_matches():
    log.warning("logfail self-test: not covered")


@pytest.fixture
def noisy_teardown():
    yield
    log.warning("logfail self-test: in a teardown")


def test_a_warning_in_a_fixture_teardown(noisy_teardown):
    pass


def test_a_failure_of_its_own_is_not_hidden(noisy_teardown):
    log.warning("logfail self-test: before the failure")
    assert 1 == 2
'''


@pytest.mark.expect_log(r"^logfail self-test: ")  # the inner tests' records reach this test's handler too
def test_logfail_fails_tests_that_log_unexpected_warnings(pytester: pytest.Pytester) -> None:
    shutil.copy(TESTS / "conftest.py", pytester.path / "conftest.py")
    (pytester.path / "helpers").symlink_to(TESTS / "helpers")  # what conftest.py imports
    inner = pytester.makepyfile(test_inner=INNER)
    recorder = pytester.inline_run(inner, "-p", "no:cacheprovider")
    reports: dict[tuple[str, str], pytest.TestReport] = {
        (r.nodeid.split("::")[-1], r.when): r for r in recorder.getreports("pytest_runtest_logreport")
    }

    def outcome(test: str, when: str = "call") -> str:
        return reports[test, when].outcome

    def text(test: str, when: str = "call") -> str:
        return reports[test, when].longreprtext

    for test in ("test_info_is_fine", "test_a_third_party_logger_is_left_alone", "test_a_declared_warning_is_fine"):
        assert outcome(test) == "passed" and outcome(test, "teardown") == "passed", test
    for test, line in (
        ("test_unexpected_warning", "WARNING photosearch_desktop.selftest (MainThread): logfail self-test: unexpected"),
        ("test_unexpected_error_from_another_thread", "ERROR photosearch_desktop.selftest (worker): logfail self-test: from a thread"),
        ("test_the_root_logger_counts", "WARNING root (MainThread): logfail self-test: root"),
        ("test_the_command_line_logger_counts", "WARNING photosearch (MainThread): logfail self-test: command line"),
        ("test_a_pattern_covers_only_what_it_matches", "logfail self-test: not covered"),
    ):
        assert outcome(test) == "failed", test
        assert "logged 1 unexpected warning(s) while the test was set up or ran" in text(test) and line in text(test), text(test)
        assert "@pytest.mark.expect_log" in text(test)
    # A warning in a fixture's teardown: the test passed, its teardown is an error.
    assert outcome("test_a_warning_in_a_fixture_teardown") == "passed"
    assert outcome("test_a_warning_in_a_fixture_teardown", "teardown") == "failed"
    assert "logfail self-test: in a teardown" in text("test_a_warning_in_a_fixture_teardown", "teardown")
    # A test failing for a reason of its own reports that reason, and no more (not even what its
    # teardown logs).
    assert outcome("test_a_failure_of_its_own_is_not_hidden") == "failed"
    assert "assert 1 == 2" in text("test_a_failure_of_its_own_is_not_hidden")
    assert outcome("test_a_failure_of_its_own_is_not_hidden", "teardown") == "passed"
    assert len({nodeid for nodeid, _ in reports}) == 10  # every inner test ran
