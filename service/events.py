"""Committed changes other parts of the app want to hear about, whatever channel made them.

The session factory notes, at each flush, the meetings whose attendance changed and
publishes them only after the transaction commits: a rolled-back check-in never
reaches a facilitator's screen. The hub is per process; see the README for what
that means with several web instances.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from service.models import Attendance

_PENDING = "copline.attendance_meetings"
QUEUE_LIMIT = 100  # a subscriber that stops reading loses old events, never blocks writers


class AttendanceHub:
    def __init__(self) -> None:
        self._subscribers: dict[int, set[asyncio.Queue[int]]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self, meeting_id: int) -> None:
        for queue in list(self._subscribers.get(meeting_id, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(meeting_id)

    @asynccontextmanager
    async def subscribe(self, meeting_id: int) -> AsyncIterator[asyncio.Queue[int]]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._subscribers[meeting_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[meeting_id].discard(queue)
            if not self._subscribers[meeting_id]:
                del self._subscribers[meeting_id]


def install(session_class: type[Session], hub: AttendanceHub) -> None:
    """Publish attendance changes committed through sessions of `session_class`."""

    @event.listens_for(session_class, "after_flush")
    def _note(session: Session, _context: Any) -> None:
        changed = {
            obj.meeting_id
            for obj in (*session.new, *session.dirty)
            if isinstance(obj, Attendance) and obj.meeting_id is not None
        }
        if changed:
            session.info.setdefault(_PENDING, set()).update(changed)

    @event.listens_for(session_class, "after_commit")
    def _publish(session: Session) -> None:
        for meeting_id in session.info.pop(_PENDING, ()):
            hub.publish(meeting_id)

    @event.listens_for(session_class, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_PENDING, None)
