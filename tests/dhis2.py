"""A term with one held meeting at school SCH-1, where one of two members came, and a
mapping of every figure; shared by the domain and command tests of the DHIS2 push."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.attendance import record_presence
from service.domain.terms import TermInput, create_term
from service.models import Meeting, Membership, Term
from service.models.enums import MeetingStatus, Presence
from tests import factories as f

ORG_UNIT = "DiszpKrYNg8"
ELEMENTS = {
    "meetings_held": "FTRrcoaog83",
    "members": "eY5ehpbEsB7",
    "attendances": "h0xKKjijTdI",
    "teachers_attending": "Y7Oq71I3ASg",
    "attendance_rate": "Jtf34kNZhzP",
    "survey_response_rate": "UOlfIjgN8X6",
}
MAPPING = (
    "kind,copline,dhis2\n"
    + "".join(f"figure,{figure},{uid}\n" for figure, uid in ELEMENTS.items())
    + f"school,SCH-1,{ORG_UNIT}\n"
)


@dataclass
class Termly:
    world: f.World
    term: Term
    held: Meeting


async def term_with_a_held_meeting(session: AsyncSession) -> Termly:
    w = await f.world(session)
    now = f.now()
    today = now.astimezone(ZoneInfo("Africa/Nairobi")).date()
    term = await create_term(
        w.programme,
        TermInput(name="Term 3", starts_on=today - timedelta(days=5), ends_on=today),
        session=session,
        actor=f.OPERATOR,
    )
    await session.execute(
        sa.update(Membership)
        .where(col(Membership.community_id) == w.community.id)
        .values(joined_at=now - timedelta(days=30))
    )
    held = await f.meeting(session, w.programme, w.community, at=now - timedelta(days=2))
    held.status = MeetingStatus.held
    first = w.members[0]
    assert held.id is not None and first.id is not None
    await record_presence(
        w.pid, held.id, first.id, Presence.present,
        session=session, actor=f.OPERATOR, now=held.starts_at,
    )  # fmt: skip
    await session.commit()
    return Termly(w, term, held)
