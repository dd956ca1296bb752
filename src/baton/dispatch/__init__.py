"""Dispatch and hybrid capacity (issue 6): carriers, the rules engine, tendering, carrier health,
inbound status feeds and driver assignment. Pure domain logic; storage is in
:mod:`baton.adapters.carriers`, handlers in :mod:`baton.service_layer.dispatch_handlers`.
See ``docs/dispatch-rules.md``."""
