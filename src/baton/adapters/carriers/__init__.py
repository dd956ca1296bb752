"""Carrier adapters: the HTTP tender client, the dispatch store and a fake carrier server."""
