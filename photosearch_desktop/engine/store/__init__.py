"""Store/index: the SQLite catalog (source of truth) and the FAISS vector index (its cache)."""
