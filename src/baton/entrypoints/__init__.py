"""Entrypoints: the CLI (and later the API, web and workers)."""
