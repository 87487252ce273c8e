"""Settings: library folder, model, device, results count, thumbnail size."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .settings import DEVICES, RESULTS_RANGE, THUMB_RANGE, Preferences

DEVICE_LABELS = {
    "auto": "Automatic (GPU if available)",
    "cpu": "CPU",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
}


def model_note(supports_text: bool, download_mb: int) -> str:
    size = "No download needed" if download_mb == 0 else f"Downloads about {download_mb} MB once, on first use"
    search = "search by photo and by words" if supports_text else "search by photo only (no text search)"
    return f"{size} · {search}."


class SettingsDialog(QDialog):
    def __init__(self, prefs: Preferences, current_model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PhotoSearch Settings")
        self.setObjectName("settingsDialog")
        self.setMinimumWidth(520)
        from ..engine.library import available_models, model_spec

        self._specs = {spec.name: spec for spec in available_models()}
        if current_model and current_model not in self._specs:
            self._specs[current_model] = model_spec(current_model)  # e.g. a custom clip:ARCH

        self.library = QLineEdit(prefs.library, self)
        self.library.setPlaceholderText("The folder that holds your photos")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        library_row = QHBoxLayout()
        library_row.addWidget(self.library, 1)
        library_row.addWidget(browse)

        self.model = QComboBox(self)
        for name, spec in self._specs.items():
            self.model.addItem(f"{name} — {spec.description}", name)
        self.model.setCurrentIndex(max(0, self.model.findData(current_model)))
        self.model_note = QLabel(self)
        self.model_note.setWordWrap(True)
        self.model_note.setEnabled(False)
        self.model.currentIndexChanged.connect(self._update_note)

        self.weights = QLineEdit(prefs.weights, self)
        self.weights.setObjectName("weightsFile")
        self.weights.setPlaceholderText("Downloaded on first use")
        self.weights.setToolTip("A CLIP weights file (open_clip_model.safetensors) already on this computer,\n"
                                "for a computer that cannot download it.")
        browse_weights = QPushButton("Browse…", self)
        browse_weights.clicked.connect(self._browse_weights)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights, 1)
        weights_row.addWidget(browse_weights)

        self.device = QComboBox(self)
        for name in DEVICES:
            self.device.addItem(DEVICE_LABELS[name], name)
        self.device.setCurrentIndex(max(0, self.device.findData(prefs.device)))

        self.results = QSpinBox(self)
        self.results.setRange(*RESULTS_RANGE)
        self.results.setSingleStep(10)
        self.results.setValue(prefs.results_count)
        self.results.setSuffix(" photos")

        self.thumb = QSpinBox(self)
        self.thumb.setRange(*THUMB_RANGE)
        self.thumb.setSingleStep(16)
        self.thumb.setValue(prefs.thumb_size)
        self.thumb.setSuffix(" px")

        form = QFormLayout()
        form.addRow("Photo folder:", library_row)
        form.addRow("Model:", self.model)
        form.addRow("", self.model_note)
        form.addRow("Weights file:", weights_row)
        form.addRow("Device:", self.device)
        form.addRow("Results per search:", self.results)
        form.addRow("Thumbnail size:", self.thumb)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._update_note()

    def _update_note(self) -> None:
        spec = self._specs.get(self.model.currentData())
        if spec is not None:
            self.model_note.setText(model_note(spec.supports_text, spec.download_mb))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose your photo folder", self.library.text())
        if folder:
            self.library.setText(folder)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a CLIP weights file", self.weights.text(),
                                              "Model weights (*.safetensors *.bin *.pt *.pth);;All files (*)")
        if path:
            self.weights.setText(path)

    def preferences(self) -> Preferences:
        return Preferences(
            library=self.library.text().strip(),
            model=str(self.model.currentData() or ""),
            weights=self.weights.text().strip(),
            device=str(self.device.currentData()),
            results_count=self.results.value(),
            thumb_size=self.thumb.value(),
        )
