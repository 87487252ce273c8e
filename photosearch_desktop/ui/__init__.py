"""The desktop window (PySide6). All Qt code of the app lives in this package.

The engine (``photosearch_desktop.engine``) knows nothing about Qt; this package drives it
from worker threads and only ever talks to the widgets through signals.
"""
