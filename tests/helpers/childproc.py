"""Child Python processes of the tests: the driver scripts under tests/helpers/drivers/, run
by path with ``sys.executable``, importing the package of this checkout (not an installed
copy) and the tests' helpers."""

from __future__ import annotations

import os
from pathlib import Path

HELPERS = Path(__file__).resolve().parent
REPO = HELPERS.parents[1]
DRIVERS = HELPERS / "drivers"


def driver(name: str) -> str:
    """The path of the driver script ``tests/helpers/drivers/NAME.py``."""
    path = DRIVERS / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(path)
    return str(path)


def child_env(data_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment for a child: PYTHONPATH names this checkout and the tests'
    helpers before the parent's own entries (packages installed there, as on a machine whose
    dependencies come by PYTHONPATH), PHOTOSEARCH_DATA_DIR is ``data_dir`` when given, then
    ``extra``."""
    env = {**os.environ}
    if data_dir is not None:
        env["PHOTOSEARCH_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HELPERS), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env
