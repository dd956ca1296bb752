"""API package: the FastAPI app (:func:`baton.entrypoints.api.app.create_app`)."""
