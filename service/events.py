"""Committed changes other parts of the app want to hear about, whatever channel made them.

The session factory notes, at each flush, the meetings whose attendance changed and
publishes them only after the transaction commits: a rolled-back check-in never
reaches a facilitator's screen. The hub is per process. On PostgreSQL every process
that writes (web instances, workers) also sends the changed meetings with
`pg_notify` inside the same transaction, which PostgreSQL delivers only on commit;
each web instance listens (`service.listening`) and publishes what other processes
changed into its own hub, so a subscriber on one instance hears a check-in made
through another.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from service.models import Attendance

_PENDING = "copline.attendance_meetings"
QUEUE_LIMIT = 100  # a subscriber that stops reading loses old events, never blocks writers
CHANNEL = "copline_attendance"
# A notification names its sender so that an instance skips its own (it published them
# already, without the round trip) and a few thousand meetings at most (NOTIFY's payload
# is capped at 8,000 bytes; a bigger change is split).
PER_NOTIFICATION = 800


def notification_payloads(sender: str, meeting_ids: set[int]) -> list[str]:
    ordered = sorted(meeting_ids)
    return [
        f"{sender}:" + ",".join(map(str, ordered[i : i + PER_NOTIFICATION]))
        for i in range(0, len(ordered), PER_NOTIFICATION)
    ]


def parse_notification(payload: str) -> tuple[str, list[int]]:
    """The sender and meeting ids of a payload; ids that are not numbers are skipped."""
    sender, _, ids = payload.partition(":")
    return sender, [int(i) for i in ids.split(",") if i.isdigit()]


class AttendanceHub:
    def __init__(self) -> None:
        self._subscribers: dict[int, set[asyncio.Queue[int]]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self, meeting_id: int) -> None:
        for queue in list(self._subscribers.get(meeting_id, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(meeting_id)

    def refresh_all(self) -> None:
        """Every subscribed meeting once: their screens read the state afresh."""
        for meeting_id in list(self._subscribers):
            self.publish(meeting_id)

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


def install(
    session_class: type[Session], hub: AttendanceHub | None, *, notify_as: str | None = None
) -> None:
    """Publish attendance changes committed through sessions of `session_class` to
    `hub`, and, given `notify_as` (this process's name; PostgreSQL only), to every
    listening instance."""

    @event.listens_for(session_class, "after_flush")
    def _note(session: Session, _context: Any) -> None:
        changed = {
            obj.meeting_id
            for obj in (*session.new, *session.dirty)
            if isinstance(obj, Attendance) and obj.meeting_id is not None
        }
        if not changed:
            return
        if hub is not None:
            session.info.setdefault(_PENDING, set()).update(changed)
        if notify_as is not None:
            # In the flush's own transaction: a rollback withdraws the notification.
            connection = session.connection()
            for payload in notification_payloads(notify_as, changed):
                connection.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))

    @event.listens_for(session_class, "after_commit")
    def _publish(session: Session) -> None:
        if hub is None:
            return
        for meeting_id in session.info.pop(_PENDING, ()):
            hub.publish(meeting_id)

    @event.listens_for(session_class, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_PENDING, None)


def instance_name() -> str:
    """A name for this process no other process shares, even on another machine."""
    return f"{socket.gethostname()[:40]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
