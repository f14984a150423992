"""Live updates over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.permission import BasePermission

from service.api import ids
from service.api.permissions import CanRead
from service.api.types.common import Info_
from service.api.types.meetings import AttendanceNode, AttendanceSummary, summary_of
from service.domain.lookup import get_owned
from service.models import Meeting

READ: list[type[BasePermission]] = [CanRead]


@strawberry.type
class AttendanceChange:
    meeting_id: strawberry.ID
    summary: AttendanceSummary
    attendance: list[AttendanceNode]


async def _snapshot(info: Info_, meeting_id: int) -> AttendanceChange:
    # Each message is read in a fresh session with fresh loaders: never a stale count,
    # and no connection is held while the subscription waits.
    await info.context.release()
    rows = await info.context.loaders.attendance_of_meeting.load(meeting_id)
    change = AttendanceChange(
        meeting_id=ids.encode("Meeting", meeting_id),
        summary=await summary_of(info, meeting_id),
        attendance=[AttendanceNode.from_row(a) for a in rows],
    )
    await info.context.release()  # before the wait: an open read would hold a connection
    return change


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=READ,
        description="The meeting's attendance now, then again after every committed change "
        "(RSVP or check-in by USSD, SMS or API).",
    )
    async def attendance_changed(
        self, info: Info_, meeting_id: strawberry.ID
    ) -> AsyncGenerator[AttendanceChange, None]:
        pk = ids.decode(meeting_id, "Meeting")

        async def owned(session: AsyncSession) -> Meeting:
            return await get_owned(session, Meeting, pk, info.context.programme_id)

        hub = info.context.services.attendance_hub
        try:
            # Inside the try: a refused id must give its connection back too.
            await info.context.run(owned)
            async with hub.subscribe(pk) as queue:
                yield await _snapshot(info, pk)
                while True:
                    await queue.get()
                    while not queue.empty():  # a burst of check-ins becomes one message
                        queue.get_nowait()
                    yield await _snapshot(info, pk)
        finally:
            await info.context.release()
