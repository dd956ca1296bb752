"""Customer notifications: events → messages → channels, plus the customer's own actions.

* :mod:`baton.notify.model`: settings, preferences, message kinds, quiet hours (pure);
* :mod:`baton.notify.render`: Jinja2 templates per kind and language, with organisation overrides;
* :mod:`baton.notify.engine`: which events become which messages, for whom, on which channel;
* :mod:`baton.notify.outbox`: the unit-of-work hook writing messages in the event's transaction;
* :mod:`baton.notify.sender`: the worker claiming and sending outbox rows, with retries and fallback;
* :mod:`baton.notify.tokens`: signed, expiring tracking links;
* :mod:`baton.notify.slots` / :mod:`baton.notify.actions`: reschedule slots and customer commands.
"""
