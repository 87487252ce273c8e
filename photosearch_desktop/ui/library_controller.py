"""The open library: opening and closing it, indexing it, its model, and the dialogs about it.

One :class:`~.session.LibrarySession` per open library; this controller starts it, wires its
signals to the widgets that show them, and closes it when another library opens or the window
closes. Settings that change the model or the device reopen the library.

Two questions are asked here without blocking the window: whether a folder with no index is a
library that moved there (use its index, or index it anew), and, when photos went offline
(their drive is not there), whether to keep waiting for them or remove them from the index.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QAbstractButton, QFileDialog, QMessageBox

from ..engine.errors import Action
from ..engine.library import DEFAULT_MODEL, offline_summary
from .duplicates_dialog import DuplicatesDialog
from .errors import UserMessage, describe_error
from .heavy_imports import freeze_long_lived
from .index_status import duration
from .jobs import IndexOutcome, LibraryInfo, OpenRequest
from .session import LibrarySession
from .settings_dialog import SettingsDialog
from .skipped_dialog import SkippedDialog
from .thumbnails import LibraryPlace

if TYPE_CHECKING:
    from ..engine.records import MovedLibrary, OfflineFolder, Preparation, Progress
    from .main_window import MainWindow
    from .settings import Preferences

log = logging.getLogger(__name__)

WELCOME_PAGE, LIBRARY_PAGE = 0, 1
LIBRARY_ACTIONS = ("update_index", "skipped_files", "find_duplicates", "open_image", "paste_image")
OFFLINE_LINES_SHOWN = 6  # folders named in the offline notice; the rest are counted


class LibraryController(QObject):
    def __init__(self, window: MainWindow, model: str | None, weights: Path | None) -> None:
        super().__init__(window)
        self.w = window
        self.session: LibrarySession | None = None
        self.skipped_dialog: SkippedDialog | None = None
        self.duplicates_dialog: DuplicatesDialog | None = None
        self.clean_shutdown = True
        self._model_override = model  # from the command line: for the first library opened
        self._weights = weights
        self._model_state = ""
        self._runtime = ""  # what runs the model once it differs from the plan (an export refused)
        self._index_phase = ""
        self._notices_shown: set[str] = set()
        # The offline folders last told about: told again only when they change (or asked).
        self._offline_shown: tuple[OfflineFolder, ...] = ()
        actions = window.commands
        actions.connect("choose_library", self.choose)
        actions.connect("update_index", self.update_index)
        actions.connect("skipped_files", self.show_skipped)
        actions.connect("offline_photos", lambda: self.show_offline(again=True))
        actions.connect("find_duplicates", self.show_duplicates)
        actions.connect("settings", self.open_settings)
        window.index_status.cancel_requested.connect(self.cancel_index)
        window.welcome.choose_folder.connect(self.choose)
        window.drops.folder.connect(self.folder_dropped)

    @property
    def info(self) -> LibraryInfo | None:
        return self.session.info if self.session is not None else None

    # -- opening and closing ----------------------------------------------------------------------

    def start(self, library: Path | None) -> None:
        """Open ``library`` (or the last one) once the window is on screen."""
        prefs = self.w.prefs
        target = library or (Path(prefs.library) if prefs.library else None)
        if target is not None:
            self.open(target)
        else:
            self.update_enabled()

    def choose(self) -> None:
        start = self.w.prefs.library or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.w, "Choose your photo folder", start)
        if folder:
            self.open(Path(folder))

    def open(self, root: Path, model: str | None = None, redownload_weights: bool = False) -> None:
        """Open ``root`` in the background; indexing starts as soon as it is open.

        ``model`` forces a model (the person confirmed the switch); otherwise an indexed
        library keeps its own model and a new one gets the preferred model.
        ``redownload_weights``: the model's weights are fetched anew (the person asked).
        """
        prefs = self.w.prefs
        request = OpenRequest(
            root=root,
            data_dir=self.w.data_dir,
            model=model or self._model_override,
            default_model=prefs.model or None,
            device=None if prefs.device == "auto" else prefs.device,
            weights=self._weights or (Path(prefs.weights) if prefs.weights else None),
            redownload_weights=redownload_weights,
        )
        self._model_override = None
        self._start(request)

    def _start(self, request: OpenRequest) -> None:
        self._close_session()
        root = request.root
        session = LibrarySession(request, self)
        session.opened.connect(self._on_opened)
        session.open_failed.connect(self._on_open_failed)
        session.moved_found.connect(self._on_moved_found)
        session.model_loading.connect(lambda: self._set_model_state("loading"))
        session.model_preparing.connect(self._on_model_preparing)
        session.model_ready.connect(lambda: self._set_model_state("ready"))
        session.model_failed.connect(self._on_model_failed)
        session.index_started.connect(self._on_index_started)
        session.index_progress.connect(self._on_index_progress)
        session.index_finished.connect(self._on_index_finished)
        session.index_failed.connect(self._on_index_failed)
        self.session = session
        self.w.search.set_session(session)
        self._model_state = ""
        self._runtime = ""
        self.w.statusBar().showMessage(f"Opening {root}…")
        self.w.summary.setText("")
        self.w.pages.setCurrentIndex(LIBRARY_PAGE)
        self.update_enabled()
        if self.w.isVisible():
            # Lay out and paint the library page now, before a worker starts importing: its
            # widgets' Python overrides each wait for the GIL while an import holds it.
            self.w.repaint()
        session.open()

    def _close_session(self) -> None:
        if self.session is None:
            return
        session, self.session = self.session, None
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.close()  # it works on this session's library
        for box in self.w.findChildren(QMessageBox, "offlineNotice"):
            box.close()  # about this session's library
        self._offline_shown = ()
        self.w.search.set_session(None)
        self.w.thumbnails.detach()
        if not session.close():
            self.clean_shutdown = False
            log.error("a worker thread did not stop in time; it is left to finish on its own")
        else:
            session.deleteLater()
        self.w.index_status.hide()

    def close(self) -> None:
        if self.skipped_dialog is not None:
            self.skipped_dialog.close()
        self._close_session()

    def _on_opened(self, info: LibraryInfo) -> None:
        assert self.session is not None
        self.w.prefs = replace(self.w.prefs, library=str(info.root))
        self.w.settings.save_preferences(self.w.prefs)
        self.w.setWindowTitle(f"PhotoSearch — {info.root.name}")
        self.w.thumbnails.attach(self.session.thumbnail_calls(), info.thumbnails_dir,
                                 LibraryPlace(info.root, info.library_id), housekeeping=self.session.calls())
        self.w.filters.set_folders(info.folders, info.root.name)
        if info.capture_dates is not None:
            self.w.filters.set_date_bounds(*info.capture_dates)
        self.w.search.library_opened(info.supports_text)
        self.w.statusBar().showMessage(f"Opened {info.root}", 4000)
        self._show_notices(info)
        self.update_summary()
        self.update_enabled()
        self.session.start_index()
        freeze_long_lived()

    def _on_open_failed(self, message: UserMessage) -> None:
        self._back_to_welcome(message.text)
        self.w.messages.show(message)

    def _back_to_welcome(self, status: str) -> None:
        self._close_session()
        self.w.pages.setCurrentIndex(WELCOME_PAGE)
        self.w.setWindowTitle("PhotoSearch")
        self.w.statusBar().showMessage(status, 10000)
        self.update_enabled()

    def _on_moved_found(self, moved: MovedLibrary) -> None:
        """The folder has no index, but holds a library indexed elsewhere: ask before
        indexing it anew (minutes to hours) what could be reused as it is."""
        if self.session is None:
            return
        request = self.session.request
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Is this a library you moved?",
            f"This looks like the library that was at {moved.old_root} — use its index?",
            QMessageBox.StandardButton.NoButton,
            self.w,
        )
        box.setObjectName("relinkOffer")
        box.setInformativeText(
            f"{moved.matched} of the {moved.sampled} photos looked up are here, unchanged. Its index holds "
            f"{moved.photos:,} photos: using it here means nothing is indexed again. Otherwise this folder is "
            "indexed anew."
        )
        use = box.addButton("Use its index", QMessageBox.ButtonRole.AcceptRole)
        anew = box.addButton("Index anew", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(use)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button: QAbstractButton) -> None:
            if button is use:
                self._start(replace(request, relink_from=Path(moved.old_root)))
            elif button is anew:
                self._start(replace(request, look_for_moved=False))
            else:
                self._back_to_welcome(f"{request.root} was not opened.")

        box.buttonClicked.connect(answered)
        box.open()

    def folder_dropped(self, folder: Path) -> None:
        info = self.info
        if info is not None and folder.resolve() == info.root:
            return
        if info is not None:
            answer = QMessageBox.question(self.w, "Switch library?", f"Search the photos in {folder} instead of {info.root}?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.open(folder)

    def _show_notices(self, info: LibraryInfo) -> None:
        for notice in info.notices:
            if notice not in self._notices_shown:
                self._notices_shown.add(notice)
                self.w.messages.show(UserMessage("About this library", notice))

    # -- the model --------------------------------------------------------------------------------

    def _set_model_state(self, state: str) -> None:
        self._model_state = state
        self.update_summary()

    def _on_model_preparing(self, news: Preparation) -> None:
        """The model's one-time export for this computer: tens of seconds, said in the status bar."""
        self.w.statusBar().showMessage(news.message, 0 if news.stage == "started" else 15000)
        if news.stage == "refused":
            self._runtime = "torch"
            self.update_summary()

    def _on_model_failed(self, message: UserMessage) -> None:
        self._set_model_state("failed")
        offer = message.hint.model if Action.CHOOSE_MODEL in message.hint else None
        redownload = Action.DOWNLOAD_WEIGHTS_AGAIN in message.hint  # the more direct remedy
        if offer is None or redownload or self.info is None or self.info.indexed_model:
            self._show_model_problem(message)
            return
        # A library never indexed (e.g. CLIP weights that cannot be downloaded offline): one
        # click switches to the offered model, which needs no download, and indexing starts.
        box = QMessageBox(QMessageBox.Icon.Warning, message.title, message.text, QMessageBox.StandardButton.Close,
                          self.w)
        box.setObjectName("modelFailed")
        use = box.addButton("Use the built-in photo model (no download)", QMessageBox.ButtonRole.AcceptRole)
        use.setObjectName("useBuiltInModel")
        box.setDefaultButton(use)
        box.finished.connect(lambda _: self._model_offer_answered(box.clickedButton() is use, offer))
        box.open()

    def _model_offer_answered(self, accepted: bool, model: str) -> None:
        info = self.info
        if accepted and info is not None:
            self.apply_preferences(replace(self.w.prefs, model=model), info.model_name)

    def _show_model_problem(self, message: UserMessage) -> None:
        """Weights that were refused can be downloaded again from the message itself."""
        remedy = ("Download again", self.redownload_weights) if Action.DOWNLOAD_WEIGHTS_AGAIN in message.hint else None
        self.w.messages.show(message, remedy)

    def redownload_weights(self) -> None:
        info = self.info
        if info is not None:
            self.open(info.root, model=info.model_name, redownload_weights=True)

    def update_summary(self) -> None:
        info = self.info
        if info is None:
            self.w.summary.setText("")
            return
        parts = []
        if self.session is None or not self.session.indexing:  # while indexing the strip shows progress
            parts.append(f"{info.indexed} photo{'s' if info.indexed != 1 else ''} indexed")
        if info.skipped:
            parts.append(f"{info.skipped} skipped")
        if info.offline:
            parts.append(f"{info.offline:,} offline")
        model = {"loading": f"loading {info.model_name}…", "failed": f"{info.model_name} unavailable"}
        parts.append(model.get(self._model_state, info.model_name))
        if runtime := self._runtime or info.runtime:
            parts.append(runtime)
        self.w.summary.setText(" · ".join(parts))
        skipped = self.w.commands["skipped_files"]
        skipped.setText(f"Skipped files ({info.skipped})" if info.skipped else "Skipped files")

    def update_enabled(self) -> None:
        info = self.info
        indexing = self.session is not None and self.session.indexing
        self.w.commands.enable(LIBRARY_ACTIONS, info is not None)
        self.w.commands["offline_photos"].setEnabled(info is not None and info.offline > 0)
        update = self.w.commands["update_index"]
        update.setEnabled(info is not None and not indexing)
        update.setToolTip("Indexing is running…" if indexing else "Index new, changed, moved and deleted photos (F5)")
        field = self.w.search_field
        field.setEnabled(info is not None and info.supports_text)
        if info is None:
            field.setPlaceholderText("Describe a photo…")
            field.setToolTip("Open a photo folder first.")
        elif info.supports_text:
            field.setPlaceholderText("Describe a photo, e.g. “dog on a beach” (Enter)")
            field.setToolTip("Search with words (Ctrl+F, then Enter)")
        else:
            field.setPlaceholderText("Text search needs a CLIP model")
            field.setToolTip(
                f"The model {info.model_name} understands photos only, so it cannot search with words.\n"
                "Choose a CLIP model in Settings to search by text."
            )

    # -- indexing ---------------------------------------------------------------------------------

    def update_index(self) -> None:
        if self.session is not None:
            self.session.start_index()  # refused while a run is going: one at a time

    def cancel_index(self) -> None:
        if self.session is not None:
            self.session.cancel_index()

    def _on_index_started(self) -> None:
        self._index_phase = ""
        self.w.index_status.start()
        self.update_summary()
        self.update_enabled()

    def _on_index_progress(self, progress: Progress) -> None:
        self.w.search.indexing_progressed()
        first_embedding = progress.phase == "embedding" and self._index_phase != "embedding"
        self._index_phase = progress.phase
        self.w.index_status.update_progress(progress)
        if first_embedding:
            self._scan_done()

    def _on_index_finished(self, outcome: IndexOutcome) -> None:
        self.w.index_status.hide()
        r, info = outcome.report, outcome.info
        if r.cancelled:
            text = f"Indexing stopped. {info.pending} photos still to do — choose Update index to continue."
        else:
            changes = f"{r.added} new, {r.modified} changed, {r.moved} moved, {r.deleted} deleted"
            text = f"Index up to date ({changes}; {r.embedded} indexed, {r.skipped} skipped in {duration(r.seconds)})."
        if r.rebuilt_for_model:
            text += f" Rebuilt for {r.rebuilt_for_model}."
        if r.returned:
            text += f" {r.returned:,} offline photos are back."
        if r.offline:
            text += f" {r.offline:,} photos went offline."
        self.w.statusBar().showMessage(text, 15000)
        self.w.filters.set_folders(info.folders, info.root.name)
        if info.capture_dates is not None:
            self.w.filters.set_date_bounds(*info.capture_dates)
        self._show_notices(info)
        self.update_summary()
        self.update_enabled()
        self.show_offline()
        if r.added or r.modified or r.moved or r.deleted or r.embedded or r.offline or r.returned:
            self.w.thumbnails.forget()  # changed files get new thumbnails
            self.w.search.photos_changed()  # what is shown refreshes with what was just indexed
            if self.duplicates_dialog is not None:
                self.duplicates_dialog.refresh()

    def _on_index_failed(self, message: UserMessage) -> None:
        self.w.index_status.hide()
        self.update_enabled()
        self.w.statusBar().showMessage(message.text, 15000)
        self._scan_done()  # the scan was saved before the model was needed: its photos are browsable
        if self._model_state != "failed":  # the model's own failure was shown already
            self._show_model_problem(message)

    def _scan_done(self) -> None:
        """The scan's findings are saved: new folders can be chosen and new photos browsed
        while (or even if not) the model embeds them."""
        session = self.session
        if session is None or session.library is None:
            return
        library = session.library
        session.calls().submit(library.folders, lambda folders: self.w.filters.set_folders(folders, library.root.name))
        self.w.search.photos_changed()

    # -- dialogs ----------------------------------------------------------------------------------

    def show_offline(self, again: bool = False) -> None:
        """Say which folders are not reachable, once per change (``again``: asked for), and
        offer to keep waiting for them or to remove their photos from the index."""
        info = self.info
        if info is None or not info.offline:
            self._offline_shown = ()
            return
        if info.offline_folders == self._offline_shown and not again:
            return
        self._offline_shown = info.offline_folders
        for old in self.w.findChildren(QMessageBox, "offlineNotice"):
            old.close()
        everything = not info.reachable or info.indexed + info.pending + info.skipped == 0
        lines = offline_summary(info.root, info.offline_folders, everything)
        text = "\n".join(lines[:OFFLINE_LINES_SHOWN])
        if len(lines) > OFFLINE_LINES_SHOWN:
            text += f"\n…and {len(lines) - OFFLINE_LINES_SHOWN} more folders."
        box = QMessageBox(QMessageBox.Icon.Information, "Photos offline", text, QMessageBox.StandardButton.NoButton, self.w)
        box.setObjectName("offlineNotice")
        box.setInformativeText(
            f"{info.offline:,} photos stay in the index but are left out of results while their files cannot be "
            "reached. Once they are back, Update index brings them back without indexing them again. If they "
            "are gone for good, remove them from the index."
        )
        wait = box.addButton("Keep waiting", QMessageBox.ButtonRole.RejectRole)
        remove = box.addButton("Remove them from the index", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(wait)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        session = self.session

        def answered(button: QAbstractButton) -> None:
            if button is remove and session is self.session and session is not None \
                    and not session.start_index(remove_missing=True):
                self.w.statusBar().showMessage("The index is being updated: remove them once it is done.", 10000)

        box.buttonClicked.connect(answered)
        box.open()

    def show_skipped(self) -> None:
        session = self.session
        if session is None or session.library is None:
            return
        if self.skipped_dialog is None:
            self.skipped_dialog = SkippedDialog(self.w)
        dialog = self.skipped_dialog
        dialog.set_error("Loading…")
        dialog.show()
        dialog.raise_()
        session.calls().submit(session.library.skipped, dialog.set_files,
                               lambda exc: dialog.set_error(describe_error(exc).text))

    def show_duplicates(self) -> None:
        if self.session is None or self.session.library is None or self.info is None:
            return
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.close()
        dialog = DuplicatesDialog(self.session, self.info, self.w.filters.folder(), self.w)
        # Trashed photos leave the library: the index follows (and then the dialog regroups).
        dialog.trashed.connect(lambda _paths: self.update_index())
        dialog.finished.connect(lambda _result: self._duplicates_closed(dialog))
        self.duplicates_dialog = dialog
        dialog.show()
        dialog.start()

    def _duplicates_closed(self, dialog: DuplicatesDialog) -> None:
        if self.duplicates_dialog is dialog:
            self.duplicates_dialog = None

    def open_settings(self) -> None:
        info = self.info
        current_model = info.model_name if info else (self.w.prefs.model or DEFAULT_MODEL)
        dialog = SettingsDialog(self.w.prefs, current_model, self.w)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_preferences(dialog.preferences(), current_model)

    def apply_preferences(self, new: Preferences, current_model: str) -> None:
        """Save the settings; a new model or device reopens the library (after the person
        confirmed a re-index), a new folder opens that one."""
        old, info = self.w.prefs, self.info
        model_changed = new.model != current_model
        if model_changed and info is not None and info.indexed_model and info.indexed_model != new.model:
            answer = QMessageBox.question(
                self.w,
                "Re-index with another model?",
                f"The library is indexed with {info.indexed_model}. Switching to {new.model} indexes all "
                f"{info.indexed + info.pending} photos again, which can take a while. Search results use the "
                "new model once it is done.\n\nSwitch the model?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                new = replace(new, model=current_model)
                model_changed = False
        self.w.prefs = new
        self.w.settings.save_preferences(new)
        if new.thumb_size != old.thumb_size:
            self.w.grid.set_thumb_size(new.thumb_size)
        if new.weights != old.weights:
            self._weights = None  # the command line's file gives way to the one chosen here
        library_changed = bool(new.library) and (info is None or Path(new.library) != info.root)
        if library_changed:
            self.open(Path(new.library))
        elif info is not None and (model_changed or new.device != old.device or new.weights != old.weights):
            self.open(info.root, model=new.model if model_changed else None)
        elif new.results_count != old.results_count:
            self.w.search.rerun()
