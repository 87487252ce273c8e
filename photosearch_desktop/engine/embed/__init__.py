"""Embed: decode threads feeding batched inference, one transaction per batch."""
