"""The search engine: scan -> load -> embed -> store/index -> search.

Nothing in this package imports Qt; the desktop UI and the command line both drive it
through :class:`photosearch_desktop.engine.library.Library`.
"""
