"""Every command of the window, by name: text, shortcut, icon and tip in one table.

Toolbar, menus, context menus and shortcuts all trigger the same :class:`QAction`, built once
from :data:`ACTIONS`; the code that does the work connects to it by name
(``actions.connect("update_index", ...)``). Where each action appears is data too
(:data:`MENUS`, :data:`TOOLBAR`), so the window only lays them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

Key = QKeySequence.StandardKey
Icon = QStyle.StandardPixmap


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    tip: str = ""
    shortcut: QKeySequence.StandardKey | str | None = None
    icon: QStyle.StandardPixmap | None = None


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("choose_library", "Choose photo folder…", "Open another photo folder"),
    ActionSpec("open_image", "Open image…", "Search with an image file (Ctrl+O) — or drop one onto the window",
               Key.Open, Icon.SP_DialogOpenButton),
    ActionSpec("paste_image", "Paste image", "Search with the image on the clipboard (Ctrl+V)",
               Key.Paste, Icon.SP_FileDialogContentsView),
    ActionSpec("find_words", "Search by words", "Type words to search with (Ctrl+F)", Key.Find),
    ActionSpec("update_index", "Update index", "Index new, changed, moved and deleted photos (F5)",
               Key.Refresh, Icon.SP_BrowserReload),
    ActionSpec("skipped_files", "Skipped files", "Files that could not be indexed, and why",
               icon=Icon.SP_MessageBoxWarning),
    ActionSpec("offline_photos", "Offline photos…",
               "Photos kept in the index while their drive or folder cannot be reached"),
    ActionSpec("find_duplicates", "Find duplicates",
               "Groups of near-duplicate photos in the library (or the chosen folder)", icon=Icon.SP_FileDialogListView),
    ActionSpec("settings", "Settings", "Model, device, number of results, thumbnail size",
               Key.Preferences, Icon.SP_FileDialogDetailedView),
    ActionSpec("quit", "Quit", "", Key.Quit),
    ActionSpec("about", "About PhotoSearch"),
    # The selected photo's actions: the preview pane's buttons and the grid's context menu too.
    ActionSpec("open_photo", "Open", "Open the photo in your default viewer (double-click, Enter)"),
    ActionSpec("show_in_folder", "Show in folder", "Show the photo in your file manager"),
    ActionSpec("copy_path", "Copy path", "Copy the photo's full path (Ctrl+Shift+C)", "Ctrl+Shift+C"),
    ActionSpec("find_similar", "Find similar", "Search for photos that look like this one (Ctrl+Shift+F)",
               "Ctrl+Shift+F"),
    # The selection (Ctrl/Shift-click) and the query.
    ActionSpec("find_similar_selected", "Find similar to these",
               "Search for photos like the selected ones together (what they have in common)", "Ctrl+Alt+F"),
    ActionSpec("add_to_search", "Add to search", "Look for the selected photos too"),
    ActionSpec("not_like_this", "Not like this", "Steer the search away from the selected photos"),
    ActionSpec("back_to_browsing", "Back to browsing", "Show the library again, where you were (Esc)", "Esc"),
    ActionSpec("save_search", "Save search…", "Keep this search (photos, words and filters) under a name (Ctrl+S)",
               Key.Save),
    ActionSpec("export_results", "Export results…",
               "The selected photos, or all shown: as a CSV, or copies in a folder of your choice (Ctrl+E)", "Ctrl+E"),
)

PHOTO_ACTIONS = ("open_photo", "show_in_folder", "copy_path", "find_similar")
SELECTION_ACTIONS = ("find_similar_selected", "add_to_search", "not_like_this")
PHOTO_MENU = (*PHOTO_ACTIONS, "-", *SELECTION_ACTIONS, "-", "export_results")
TOOLBAR = ("open_image", "paste_image", "|search|", "update_index", "skipped_files", "find_duplicates", "settings")
MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("&File", ("choose_library", "open_image", "paste_image", "-", "settings", "-", "quit")),
    ("&Library", ("update_index", "skipped_files", "offline_photos", "find_duplicates")),
    ("&Search", ("back_to_browsing", "save_search", "export_results")),
    ("&Photo", (*PHOTO_ACTIONS, "-", *SELECTION_ACTIONS)),
    ("&Help", ("about",)),
)


class Actions:
    """The window's actions, built once from :data:`ACTIONS`."""

    def __init__(self, parent: QWidget) -> None:
        self._by_name: dict[str, QAction] = {}
        self._parent = parent
        style = parent.style()
        for spec in ACTIONS:
            action = QAction(spec.text, parent)
            action.setObjectName(spec.name)
            if spec.icon is not None:
                action.setIcon(style.standardIcon(spec.icon))
            if spec.shortcut is not None:
                action.setShortcut(QKeySequence(spec.shortcut))
            if spec.tip:
                action.setToolTip(spec.tip)
            self._by_name[spec.name] = action

    def __getitem__(self, name: str) -> QAction:
        return self._by_name[name]

    def connect(self, name: str, slot: Callable[[], object]) -> None:
        self._by_name[name].triggered.connect(lambda _checked=False: slot())

    def group(self, names: tuple[str, ...]) -> list[QAction]:
        """The actions ``names``; a "-" becomes a separator."""
        out = []
        for name in names:
            if name == "-":
                separator = QAction(self._parent)
                separator.setSeparator(True)
                out.append(separator)
            else:
                out.append(self._by_name[name])
        return out

    def enable(self, names: tuple[str, ...], enabled: bool) -> None:
        for name in names:
            self._by_name[name].setEnabled(enabled)
