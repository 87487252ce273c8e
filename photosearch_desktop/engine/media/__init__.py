"""Load: a photo file's formats, pixels and metadata, decoded defensively."""
