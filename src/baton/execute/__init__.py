"""Execution: GPS positions, geofenced stop events, ETAs, the exception monitor and SLA tracking.

See ``docs/execution.md``. Pure parts (validation, geofence, ETA, detection) take plain values;
:mod:`baton.execute.service` wires them to storage and the message bus.
"""
