"""Whether a photo of a duplicate group may go to the system trash now.

The groups come from the catalog, and the person confirms a while later: by then a file may have
been edited or replaced, and a path inside the library may lead outside it through a link. The
trash may take only what the person saw, where they saw it:

- the entry moved is the one in the library: a photo that is a symbolic link goes as the link,
  never its target (the caller says whether its trash can move a link alone);
- it lies inside the library once links in its folders are resolved (a photo reached through a
  linked folder is someone else's file);
- it is the file the groups were computed from: same size and modification time as the catalog's
  record (a link's are its target's, as the scanner read them).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..records import PhotoRecord


def trash_problem(root: Path, path: Path, photo: PhotoRecord, links_alone: bool) -> str | None:
    """Why ``path`` (``photo`` of the library at ``root``) must not go to the trash now, in a
    few words for the person; None if it may. ``links_alone``: the trash moves a symbolic link
    itself, not its target."""
    library = Path(os.path.realpath(root))
    entry = Path(os.path.realpath(path.parent)) / path.name  # the entry itself, its folders' links resolved
    if not entry.is_relative_to(library):
        return "it lies outside the library (it is reached through a linked folder)"
    try:
        own = os.lstat(entry)
        st = os.stat(entry)  # its target's, for a link
    except FileNotFoundError:
        return "it is no longer there"
    except OSError as exc:
        return f"it cannot be checked ({exc.strerror or exc})"
    if stat.S_ISLNK(own.st_mode) and not links_alone:
        return "it is a link to another file, and the system trash here might take the file it points to"
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if (st.st_size, st.st_mtime_ns) != (photo.size, photo.mtime_ns):
        return "it changed since the duplicates were found (its size or date is not the same)"
    return None
