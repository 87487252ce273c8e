"""PhotoSearch Desktop: search your own photo library by "looks like"."""

__version__ = "0.1.0"
