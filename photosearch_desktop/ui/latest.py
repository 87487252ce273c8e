"""Latest request wins: the one rule every background job of the window follows.

A person types a query, moves a slider, clicks another photo: each makes the previous request
pointless. :class:`LatestOnly` numbers requests; a worker skips a request that is no longer the
newest before starting it, long work polls its ticket's ``cancel`` event, and an answer that
arrives late for an older request is dropped on the GUI thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ticket:
    seq: int
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()


class LatestOnly:
    """Issues tickets; only the newest one is current. ``next`` and ``cancel`` are called on
    the GUI thread; ``is_current`` may be called from any thread (int reads are atomic)."""

    def __init__(self) -> None:
        self._seq = 0
        self._ticket: Ticket | None = None

    def next(self) -> Ticket:
        """A ticket for a new request; the previous one is cancelled."""
        if self._ticket is not None:
            self._ticket.cancel.set()
        self._seq += 1
        self._ticket = Ticket(self._seq)
        return self._ticket

    def cancel(self) -> None:
        """No request is current any more (the view closed, the library changed)."""
        if self._ticket is not None:
            self._ticket.cancel.set()
        self._seq += 1
        self._ticket = None

    def is_current(self, ticket: Ticket | int) -> bool:
        seq = ticket.seq if isinstance(ticket, Ticket) else ticket
        return seq == self._seq and self._ticket is not None
