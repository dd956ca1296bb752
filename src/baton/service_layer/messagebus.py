"""The message bus: one entry point for every command, and fan-out of the events it caused.

``bus.handle(command)`` runs the command's single handler (one transaction), then
dispatches every event the unit of work committed to the subscribed event handlers, in
order, including events raised by those handlers. Event handlers see only committed
events, so a crash after commit loses no state; they must be idempotent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from baton.domain.events import Event
from baton.service_layer import commands
from baton.service_layer.handlers import COMMAND_HANDLERS, Dependencies
from baton.service_layer.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]


class MessageBus:
    """Routes commands to their handler and committed events to their subscribers."""

    def __init__(self, uow: AbstractUnitOfWork, deps: Dependencies) -> None:
        self.uow = uow
        self.deps = deps
        self._subscribers: dict[type[Event], list[EventHandler]] = defaultdict(list)
        self._any: list[EventHandler] = []

    def subscribe(self, event_type: type[Event] | None, handler: EventHandler) -> None:
        """Call ``handler(event)`` for every committed event of ``event_type`` (``None``: every event)."""
        if event_type is None:
            self._any.append(handler)
        else:
            self._subscribers[event_type].append(handler)

    def handle(self, command: commands.Command) -> Any:
        """Run ``command``'s handler and return its result.

        Raises:
            KeyError: when no handler is registered for the command's type.
            baton.domain.DomainError: whatever the domain refuses (nothing is persisted then).
        """
        handler = COMMAND_HANDLERS[type(command)]
        result = handler(command, self.uow, self.deps)
        self._publish()
        return result

    def deliver(self, event: Event) -> None:
        """Hand this bus's subscribers of ``type(event)`` an event another bus committed (a relay
        between buses of one organisation, e.g. a driver's stop reaching the live board), then fan out
        what they committed. Catch-all subscribers (``subscribe(None, ...)``) are not called: they
        saw the event on its own bus."""
        for fn in self._subscribers.get(type(event), ()):
            try:
                fn(event)
            except Exception:  # as in _publish: the other bus's command stays committed
                log.exception("event handler %s failed on relayed %s", fn, event.name)
        self._publish()

    def _publish(self) -> None:
        for event in self.uow.collect_new_events():
            for fn in (*self._subscribers.get(type(event), ()), *self._any):
                try:
                    fn(event)
                except Exception:  # an event handler must not undo a committed command
                    log.exception("event handler %s failed on %s", fn, event.name)
