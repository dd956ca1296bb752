"""Service layer: commands, handlers, the message bus and the unit of work."""
