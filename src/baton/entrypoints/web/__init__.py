"""Web pages served next to the API: the operations dashboard (and, from other modules, customer pages)."""
