"""Embed: image models behind one interface (:class:`~.base.Embedder`), chosen by registry name.

Importing the package is free; torch is imported only by the model modules themselves.
"""
