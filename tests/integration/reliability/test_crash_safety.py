"""Reliability (GitHub issue #6), end to end through Library and the command line, part 3: crash
safety (a few SIGKILLs here; scripts/crash_test.py does 20)."""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path

import pytest
from childproc import REPO

pytestmark = pytest.mark.filterwarnings(
    "ignore:Corrupt EXIF data:UserWarning", "ignore:Image appears to be a malformed MPO:UserWarning"
)


def _crash_script():  # type: ignore[no-untyped-def]
    scripts = str(REPO / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    spec = importlib.util.spec_from_file_location("crash_test", REPO / "scripts" / "crash_test.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["crash_test"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# crash_test.py makes its random-weight tiny CLIP in this process: open_clip says so, on the root logger.
@pytest.mark.expect_log(r"^No pretrained weights loaded for model 'tiny-clip-test'")
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_at_three_moments_then_resume(tmp_path: Path) -> None:
    crash = _crash_script()
    _, trials = crash.run(
        kills=3, photos=60, seed=0, work=tmp_path / "crash", moments=[0.15, 0.5, 0.8], kinds=("fresh",),
        resume_in_process=True, log=lambda *a: None,
    )
    assert all(t.killed for t in trials)
    assert {t.n: t.problems for t in trials if not t.ok} == {}
    assert all(t.resumed_embedded == t.expected_embedded for t in trials)
