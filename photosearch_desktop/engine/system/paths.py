"""Where the app keeps its own files: never inside the user's library.

Per-user data (catalogs) and cache (thumbnails, model weights) come from platformdirs.
``PHOTOSEARCH_DATA_DIR`` (or a data folder the person chooses) moves everything under one folder instead, which
is what the tests and portable installs use. What the app keeps in them is its owner's alone:
see private_files.py.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "PhotoSearch"
DATA_DIR_ENV = "PHOTOSEARCH_DATA_DIR"
# In each library's data folder.
CATALOG_FILE = "catalog.sqlite"
LOCK_FILE = "writer.lock"


@dataclass(frozen=True)
class AppDirs:
    data: Path
    cache: Path
    config: Path
    chosen: bool = False  # ``data`` is a folder the person chose: left as it is

    @property
    def libraries(self) -> Path:
        return self.data / "libraries"

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    @property
    def models(self) -> Path:
        return self.cache / "models"

    @property
    def thumbnails(self) -> Path:
        return self.cache / "thumbnails"

    def library_dir(self, library_root: Path) -> Path:
        """One folder per library, named so a person browsing the data dir can tell them apart."""
        root = str(library_root.resolve())
        digest = hashlib.sha1(root.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", library_root.name).strip("-")[:40] or "library"
        return self.libraries / f"{slug}-{digest}"

    def own_folders(self) -> tuple[Path, ...]:
        """The folders that hold nothing but the app's files: the per-user ones, or, in a data
        folder the person chose, the app's sub-folders (never the chosen folder itself)."""
        if self.chosen:
            return (self.libraries, self.logs, self.cache, self.config)
        return (self.data, self.cache, self.config)


def app_dirs(data_dir: Path | str | None = None) -> AppDirs:
    override = data_dir or os.environ.get(DATA_DIR_ENV)
    if override:
        base = Path(override).expanduser().resolve()
        return AppDirs(data=base, cache=base / "cache", config=base / "config", chosen=True)
    return AppDirs(
        data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
    )
