"""Find duplicates: groups of photos, the suggested keeper of each, and the only two things done
with them: Move to Trash (the system trash, recoverable, after a confirmation that says how
many files, and how many of them are copies and how many other pictures) and Export CSV. This
is the one place the app ever changes the library, and only on that explicit request.

Each group shows two tiers: *copies* of the keeper (the same picture: removing one loses
nothing while the keeper stays), ticked for removal by default, and *similar shots* (other
pictures of the scene) in a row of their own, never ticked for the person, not even by
"Select all but keepers". The keeper's tile says which step of the rule chose it.

The work runs on the library's session (:meth:`~.session.LibrarySession.find_duplicates`): the
search for candidate pairs and copies once, at the slider's lowest similarity, so moving the
slider only regroups (well within a second). A newer request (the slider moved again) stops
the older one.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..engine.records import COPY_TIER, KEEPER_RULE, SIMILAR_TIER
from .errors import UserMessage, describe_error
from .jobs import LibraryInfo
from .thumbnails import LibraryPlace, ThumbnailCache
from .trash import trash_photos

if TYPE_CHECKING:
    from ..engine.records import DuplicateGroup, DuplicateMember, PhotoRecord
    from .session import LibrarySession

log = logging.getLogger(__name__)

SLIDER_MIN, SLIDER_MAX = 75, 99  # similarity in hundredths; the pair search runs once at the minimum
REGROUP_DELAY_MS = 250  # the slider settles before regrouping
THUMB_SIDE = 128
MAX_GROUPS_SHOWN = 200  # widgets per photo: more groups are counted, not drawn
KEEPER = "keeper"  # a tile's tier besides COPY_TIER and SIMILAR_TIER


class PhotoTile(QFrame):
    """One photo of a group: thumbnail, a tick to select it, and its facts. ``tier`` is KEEPER,
    COPY_TIER or SIMILAR_TIER."""

    def __init__(
        self, photo: PhotoRecord, abs_path: str, tier: str, role: str, tooltip: str, parent: QWidget, why: str = ""
    ) -> None:
        super().__init__(parent)
        self.photo, self.abs_path, self.tier = photo, abs_path, tier
        self.setObjectName("duplicateTile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.thumb = QLabel("Loading…", self)
        self.thumb.setFixedSize(THUMB_SIDE, THUMB_SIDE)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.check = QCheckBox(photo.rel_path.rsplit("/", 1)[-1], self)
        self.check.setToolTip(f"{photo.rel_path}\nTick to move it to the Trash or export it")
        size = f"{photo.width}×{photo.height}" if photo.width and photo.height else "size unknown"
        date = photo.taken_at.date().isoformat() if photo.taken_at else "no date"
        self.facts = QLabel(f"{size} · {_megabytes(photo.size)} · {date}", self)
        self.role = QLabel(role, self)
        self.role.setObjectName("duplicateRole")
        self.role.setToolTip(tooltip)
        # The keeper says why it was chosen (the step of KEEPER_RULE that decided).
        self.why = QLabel(f"Why: {why}" if why else "", self)
        self.why.setObjectName("keeperReason")
        self.why.setWordWrap(True)
        self.why.setMaximumWidth(THUMB_SIDE + 60)
        self.why.setVisible(bool(why))
        self.setToolTip(f"{photo.rel_path}\n{tooltip}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for widget in (self.thumb, self.check, self.facts, self.role, self.why):
            layout.addWidget(widget)

    def set_pixmap(self, pixmap: QPixmap | None, failed: bool) -> None:
        if pixmap is not None:
            self.thumb.setPixmap(pixmap.scaled(THUMB_SIDE, THUMB_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))
        elif failed:
            self.thumb.setText("No preview")


class DuplicatesDialog(QDialog):
    """Shows the groups; ``trashed`` tells the window to update the index."""

    trashed = Signal(list)  # absolute paths moved to the trash

    def __init__(self, session: LibrarySession, info: LibraryInfo, folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicatesDialog")
        self.setWindowTitle("Find duplicates" + (f" in {folder}" if folder else ""))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(980, 720)
        self.session, self.folder = session, folder
        # Its own cache object: the result grid cancels its pending thumbnails on every query.
        self.thumbnails = ThumbnailCache(self)
        self.thumbnails.attach(session.thumbnail_calls(), info.thumbnails_dir,
                               LibraryPlace(info.root, info.library_id), housekeeping=session.calls())
        self.keeper_rule = KEEPER_RULE
        self.groups: list[DuplicateGroup] = []
        self.labelled = False
        self.tiles: list[PhotoTile] = []
        # Ticks the person set (by hand or with the buttons), kept across regrouping; other
        # tiles start as their tier says: copies ticked, keepers and similar shots not.
        self._chosen: dict[str, bool] = {}
        self._gone: set[str] = set()  # trashed here; hidden until the index is updated
        self._started = False
        self._rebuild = True

        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("duplicateThreshold")
        self.slider.setRange(SLIDER_MIN, SLIDER_MAX)
        self.slider.setValue(min(SLIDER_MAX, max(SLIDER_MIN, round(info.dup_threshold * 100))))
        self.slider.setToolTip("How alike two other pictures must look to be shown as similar shots\n"
                               "(cosine similarity). Copies of a photo are found whatever it is.")
        self.value_label = QLabel(self)
        self.slider.valueChanged.connect(self._slider_moved)
        self._regroup_timer = QTimer(self)
        self._regroup_timer.setSingleShot(True)
        self._regroup_timer.setInterval(REGROUP_DELAY_MS)
        self._regroup_timer.timeout.connect(self._request_groups)
        self.rule_label = QLabel(KEEPER_RULE, self)
        self.rule_label.setWordWrap(True)
        self.status = QLabel("Looking for duplicates…", self)
        self.status.setObjectName("duplicateStatus")
        self.status.setWordWrap(True)

        self.container = QWidget(self)
        self.groups_layout = QVBoxLayout(self.container)
        self.groups_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.container)

        self.select_others = QPushButton("Select all but keepers", self)
        self.select_others.setToolTip("Tick every copy of a kept photo. Similar shots are other pictures:\n"
                                      "they are never ticked for you.")
        self.select_others.clicked.connect(self.select_all_but_keepers)
        self.clear_button = QPushButton("Clear selection", self)
        self.clear_button.clicked.connect(self.clear_selection)
        self.trash_button = QPushButton("Move to Trash…", self)
        self.trash_button.setObjectName("moveToTrash")
        self.trash_button.setToolTip("Move the ticked photos to the system trash, from where they can be restored")
        self.trash_button.clicked.connect(self.move_selected_to_trash)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.clicked.connect(self.export_csv)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)

        top = QHBoxLayout()
        top.addWidget(QLabel("Similarity at least", self))
        top.addWidget(self.slider, 1)
        top.addWidget(self.value_label)
        buttons = QHBoxLayout()
        for b in (self.select_others, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.export_button, self.trash_button, close):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.rule_label)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

        session.duplicates_progress.connect(self._on_progress)
        session.duplicates_ready.connect(self._on_groups)
        session.duplicates_failed.connect(self._on_failed)
        self.thumbnails.ready.connect(self._on_thumbnail)
        self._closed = False
        self._slider_moved(self.slider.value())
        self._update_buttons()

    # -- requests ---------------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self.slider.value() / 100

    def refresh(self) -> None:
        """Search again (e.g. after the index was updated)."""
        self._rebuild = True
        self._request_groups()

    def start(self) -> None:
        self._request_groups()

    def _slider_moved(self, value: int) -> None:
        self.value_label.setText(f"{value / 100:.2f}")
        if self._started:  # the first search starts with start()
            self._regroup_timer.start()

    def _request_groups(self) -> None:
        self._started = True
        self.session.find_duplicates(self.folder, SLIDER_MIN / 100, self.threshold, self._rebuild)
        self._rebuild = False
        self.status.setText("Looking for duplicates…")

    # -- answers ----------------------------------------------------------------------------------

    def _on_progress(self, what: str, done: int, total: int) -> None:
        self.status.setText(f"{what}… {100 * done // max(1, total)}%")

    def _on_failed(self, message: UserMessage) -> None:
        self.status.setText(f"{message.title}: {message.text}")

    def _on_groups(self, groups: list[DuplicateGroup], labelled: bool) -> None:
        self.labelled = labelled
        self._show([g for g in groups if self._visible(g)])
        copies = sum(len(g.copies) for g in self.groups)
        similar = sum(len(g.similar) for g in self.groups)
        if not self.groups:
            text = f"No copies, and no similar shots at similarity {self.threshold:.2f} or more."
        else:
            text = (f"{len(self.groups)} group{'s' if len(self.groups) != 1 else ''}: "
                    f"{_count(copies, 'copy', 'copies')} of a kept photo (ticked), "
                    f"{_count(similar, 'similar shot', 'similar shots')} at similarity {self.threshold:.2f} "
                    "or more (other pictures, not ticked).")
            if len(self.groups) > MAX_GROUPS_SHOWN:
                text += f" Showing the first {MAX_GROUPS_SHOWN} groups."
        self.status.setText(text)

    def _visible(self, group: DuplicateGroup) -> bool:
        return group.keeper_path not in self._gone and sum(m.abs_path not in self._gone for m in group.members) > 0

    def _show(self, groups: list[DuplicateGroup]) -> None:
        while self.groups_layout.count() > 1:
            item = self.groups_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.groups, self.tiles = groups, []
        for n, group in enumerate(groups[:MAX_GROUPS_SHOWN], 1):
            box = QGroupBox(f"Group {n} — {len(group.members) + 1} photos", self.container)
            box.setObjectName("duplicateGroup")
            rows = QVBoxLayout(box)
            keeper = PhotoTile(group.keeper, group.keeper_path, KEEPER, "Suggested keeper", self.keeper_rule, box,
                               why=group.keeper_reason)
            keeper.role.setStyleSheet("font-weight: bold")
            copies = [keeper] + [self._member_tile(m, box) for m in group.copies if m.abs_path not in self._gone]
            similar = [self._member_tile(m, box) for m in group.similar if m.abs_path not in self._gone]
            self._add_row(rows, copies, None, box)
            if similar:
                self._add_row(rows, similar, "Similar shots — other pictures of the scene, not copies: "
                                             "never ticked for you", box)
            self.groups_layout.insertWidget(self.groups_layout.count() - 1, box)
        self._update_buttons()

    def _member_tile(self, m: DuplicateMember, parent: QWidget) -> PhotoTile:
        label = m.label or "checking…"
        if m.copy_of:
            label = f"{label} as {m.copy_of.rsplit('/', 1)[-1]}"
        return PhotoTile(m.photo, m.abs_path, m.tier, f"{label} · {m.similarity:.2f}",
                         f"Similarity {m.similarity:.3f} to the keeper; {_explain(m.label)}", parent)

    def _add_row(self, rows: QVBoxLayout, tiles: list[PhotoTile], heading: str | None, parent: QWidget) -> None:
        if heading:
            title = QLabel(heading, parent)
            title.setObjectName("similarShotsHeading")
            rows.addWidget(title)
        row = QHBoxLayout()
        for tile in tiles:
            tile.check.setChecked(self._chosen.get(tile.abs_path, tile.tier == COPY_TIER))
            tile.check.toggled.connect(self._update_buttons)
            tile.check.clicked.connect(lambda on, path=tile.abs_path: self._chosen.__setitem__(path, on))
            row.addWidget(tile)
            self._on_thumbnail(tile.abs_path, [tile])
        row.addStretch(1)
        rows.addLayout(row)
        self.tiles += tiles

    def _on_thumbnail(self, path: str, tiles: list[PhotoTile] | None = None) -> None:
        for tile in tiles if tiles is not None else self.tiles:
            if tile.abs_path == path:
                tile.set_pixmap(self.thumbnails.pixmap(path, THUMB_SIDE), self.thumbnails.failed(path, THUMB_SIDE))

    # -- actions ----------------------------------------------------------------------------------

    def selected(self) -> list[PhotoTile]:
        return [t for t in self.tiles if t.check.isChecked()]

    def select_all_but_keepers(self) -> None:
        """Tick every copy and untick the keepers; similar shots are left as they are."""
        for tile in self.tiles:
            if tile.tier != SIMILAR_TIER:
                self._set(tile, tile.tier == COPY_TIER)

    def clear_selection(self) -> None:
        for tile in self.tiles:
            self._set(tile, False)

    def _set(self, tile: PhotoTile, on: bool) -> None:
        self._chosen[tile.abs_path] = on
        tile.check.setChecked(on)

    def _update_buttons(self) -> None:
        n = len(self.selected())
        self.trash_button.setEnabled(n > 0)
        self.trash_button.setText(f"Move {n} to Trash…" if n else "Move to Trash…")
        self.export_button.setEnabled(bool(self.groups))

    def move_selected_to_trash(self) -> None:
        chosen = self.selected()
        if not chosen:
            return
        n = len(chosen)
        keepers = {g.keeper_path for g in self.groups} & {t.abs_path for t in chosen}
        warning = f"\n\n{len(keepers)} of them {'is a suggested keeper' if len(keepers) == 1 else 'are suggested keepers'}." if keepers else ""
        answer = QMessageBox.question(
            self,
            "Move to Trash?",
            f"Move {n} photo{'s' if n != 1 else ''} to the Trash?\n\n{_tiers_text(chosen)}\n\n"
            f"They can be restored from the system trash. The index is updated afterwards.{warning}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes or self.session.info is None:
            return
        report = trash_photos(self.session.info.root, [(tile.abs_path, tile.photo) for tile in chosen])
        log.info("moved %d photos to the trash (%d kept back, %d refused)", len(report.moved), len(report.kept),
                 len(report.failed))
        self._gone |= set(report.moved)
        self._rebuild = True  # the next regroup must not offer the trashed photos again
        self._show([g for g in self.groups if self._visible(g)])
        if report.kept or report.failed:
            QMessageBox.warning(self, "Some photos were not moved", f"{report.summary()}\n\n{report.details()}")
        self.status.setText(report.summary())
        if report.moved:
            self.trashed.emit(report.moved)

    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export duplicates", str(Path.home() / "duplicates.csv"),
                                              "CSV files (*.csv)")
        if not path:
            return
        try:
            write_csv(Path(path), self.groups)
        except OSError as exc:
            message = describe_error(exc)
            QMessageBox.warning(self, message.title, message.text)
            return
        self.status.setText(f"Exported {len(self.groups)} groups to {path}.")

    # -- closing ----------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the duplicate search: a pixel check in progress ends after the photo it is on."""
        if self._closed:
            return
        self._closed = True
        self.session.cancel_duplicates()
        self.thumbnails.detach()


def write_csv(path: Path, groups: list[DuplicateGroup]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["group", "role", "path", "abs_path", "width", "height", "size", "taken_at", "similarity", "label",
                      "tier", "copy_of"])
        for n, g in enumerate(groups, 1):
            k = g.keeper
            out.writerow([n, "keeper", k.rel_path, g.keeper_path, k.width, k.height, k.size,
                          k.taken_at.isoformat() if k.taken_at else "", "", "", "", ""])
            for m in g.members:
                p = m.photo
                copy_of = (m.copy_of or k.rel_path) if m.tier == COPY_TIER else ""
                out.writerow([n, "member", p.rel_path, m.abs_path, p.width, p.height, p.size,
                              p.taken_at.isoformat() if p.taken_at else "", f"{m.similarity:.4f}", m.label or "",
                              m.tier, copy_of])


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _tiers_text(chosen: list[PhotoTile]) -> str:
    """How many of the chosen photos are copies (nothing is lost) and how many other pictures."""
    copies = sum(t.tier == COPY_TIER for t in chosen)
    similar = sum(t.tier == SIMILAR_TIER for t in chosen)
    text = f"{_count(copies, 'is a copy', 'are copies')} of a photo that stays"
    if similar:
        text += (f"; {_count(similar, 'is a similar shot', 'are similar shots')}: "
                 f"{'another picture' if similar == 1 else 'other pictures'}, not a copy")
    return f"Of these, {text}."


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"


def _explain(label: str | None) -> str:
    return {
        "identical file": "the same bytes: an exact copy of the file",
        "same photo": "the same photo resized, re-encoded, cropped or edited (checked on the pixels)",
        "similar shot": "another picture of the same scene",
    }.get(label or "", "being checked")
