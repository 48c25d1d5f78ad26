"""The agent's bounded outbox: events wait here until the server has answered for them."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)
Event = dict[str, Any]


def encoded_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


class Outbox:
    """Oldest-first events keyed by ``eventId``; full means the oldest is dropped and counted.

    Batches respect both an event count and a byte budget, because the server closes a
    socket whose message exceeds its limit (1009) and resending it would loop forever.
    """

    def __init__(
        self, max_events: int = 10_000, *, max_batch: int = 100, max_batch_bytes: int = 60_000
    ) -> None:
        if max_events < 1 or max_batch < 1:
            raise ValueError("max_events and max_batch must be positive")
        self.max_events, self.max_batch = max_events, max_batch
        self.max_batch_bytes = max_batch_bytes
        self._events: OrderedDict[str, tuple[Event, int]] = OrderedDict()
        self.dropped = 0
        self.oversized = 0

    def __len__(self) -> int:
        return len(self._events)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._events

    def _fit(self, event: Event, size: int) -> tuple[Event, int] | None:
        if size > self.max_batch_bytes and event.get("thumbnail"):
            log.warning("event %s: thumbnail dropped, message too large", event["eventId"])
            event = {**event, "thumbnail": None}
            size = encoded_size(event)
        if size > self.max_batch_bytes:
            self.oversized += 1
            log.warning("event %s dropped: %d bytes is over the limit", event["eventId"], size)
            return None
        return event, size

    def add(self, event: Event) -> bool:
        """Queue an event; False if even without its thumbnail it can never be sent."""
        fitted = self._fit(event, encoded_size(event))
        if fitted is None:
            return False
        self._events[event["eventId"]] = fitted
        if len(self._events) > self.max_events:
            self._events.popitem(last=False)
            self.dropped += 1
            # Log the first drop and then every power of two, not once per event.
            if self.dropped & (self.dropped - 1) == 0:
                log.warning(
                    "outbox full (%d): %d oldest events dropped", self.max_events, self.dropped
                )
        return True

    def shrink(self, floor: int = 4_096) -> None:
        """Halve the byte budget (the server closed 1009: its limit is lower than we thought)
        and refit what is queued, so no batch can be too large again."""
        self.max_batch_bytes = max(floor, self.max_batch_bytes // 2)
        for event_id, (event, size) in list(self._events.items()):
            fitted = self._fit(event, size)
            if fitted is None:
                del self._events[event_id]
            else:
                self._events[event_id] = fitted

    def batch(self) -> list[Event]:
        """The oldest events that fit one message; they stay queued until :meth:`settle`."""
        chosen: list[Event] = []
        budget = self.max_batch_bytes
        for event, size in self._events.values():
            if len(chosen) >= self.max_batch or size + 1 > budget:
                break
            chosen.append(event)
            budget -= size + 1  # the comma between list items
        return chosen

    def settle(self, event_id: object) -> bool:
        """Forget an event the server answered for; False if it was not queued."""
        return isinstance(event_id, str) and self._events.pop(event_id, None) is not None

    def event_ids(self) -> list[str]:
        return list(self._events)


__all__ = ["Event", "Outbox", "encoded_size"]
