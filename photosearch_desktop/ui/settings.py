"""What the app remembers between runs, in an INI file next to its other per-user files.

The file lives in ``app_dirs(data_dir).config``, so ``--data-dir`` / ``PHOTOSEARCH_DATA_DIR``
isolate it like the rest of the app's data (the tests rely on that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ..engine.library import create_private_file, private_dir

DEVICES = ("auto", "cpu", "cuda", "mps")
RESULTS_RANGE = (10, 1000)
THUMB_RANGE = (96, 320)


@dataclass(frozen=True)
class Preferences:
    library: str = ""
    model: str = ""  # "" = the engine's default for new libraries
    weights: str = ""  # a CLIP weights file on this computer ("" = download on first use)
    device: str = "auto"
    results_count: int = 60
    thumb_size: int = 160


class AppSettings:
    def __init__(self, config_dir: Path) -> None:
        private_dir(config_dir)
        self.path = config_dir / "settings.ini"
        try:
            # Owner-only from the start: QSettings replaces the file keeping its mode.
            create_private_file(self.path)
        except OSError:
            pass  # a read-only config folder: QSettings reads what is there and saves nothing
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def preferences(self) -> Preferences:
        d = Preferences()
        device = str(self._qs.value("device", d.device))
        return Preferences(
            library=str(self._qs.value("library", d.library)),
            model=str(self._qs.value("model", d.model)),
            weights=str(self._qs.value("weights", d.weights)),
            device=device if device in DEVICES else d.device,
            results_count=_clamp(self._int("results_count", d.results_count), RESULTS_RANGE),
            thumb_size=_clamp(self._int("thumb_size", d.thumb_size), THUMB_RANGE),
        )

    def save_preferences(self, prefs: Preferences) -> None:
        for key, value in prefs.__dict__.items():
            self._qs.setValue(key, value)
        self._qs.sync()

    def window_state(self) -> dict[str, QByteArray]:
        out = {}
        for key in ("geometry", "state", "splitter"):
            value = self._qs.value(f"window/{key}")
            if isinstance(value, QByteArray) and not value.isEmpty():
                out[key] = value
        return out

    def save_window_state(self, geometry: QByteArray, state: QByteArray, splitter: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)
        self._qs.setValue("window/splitter", splitter)
        self._qs.sync()

    def _int(self, key: str, default: int) -> int:
        try:
            return int(str(self._qs.value(key, default)))
        except (TypeError, ValueError):
            return default


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))
