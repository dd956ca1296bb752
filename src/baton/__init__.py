"""Baton: last-mile delivery orchestration (order intake → plan → dispatch → execute → prove → notify → learn)."""

__version__ = "0.1.0"
