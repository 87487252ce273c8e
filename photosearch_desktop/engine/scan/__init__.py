"""Scan: walk the library folder (stats only) and compare it with the catalog."""
