"""The activity reaches people by SMS: the 48-hour reminder carries it, facilitators get a
"prepare" SMS 48 hours before; read back from the outbox and rendered in every language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import meetings as m
from service.domain import outbox, reminders
from service.domain.actor import Actor
from service.domain.errors import ValidationError
from service.domain.people import opt_out
from service.domain.prepare import queue_prepare_messages
from service.domain.segments import measure
from service.models import Meeting, Message
from service.models.enums import Channel, Encoding, Language, MessageStatus
from service.worker import DEFAULT_JOBS
from sms.texts import SmsTexts
from tests import factories as f

NAIROBI = ZoneInfo("Africa/Nairobi")
OP = f.OPERATOR
TITLE = "Fractions with paper strips"
# As long as the database keeps them: a community name of 200, an activity title of 120.
LONG_NAME = ("Groupe Scolaire Nyamirambo Mathematics and Science Teachers Community " * 3)[:200]
LONG_TITLE = ("Learning fractions through play: paper strips, number lines and sharing " * 2)[:120]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 3, day, hour, minute, tzinfo=NAIROBI)


async def meeting_at(
    session: AsyncSession,
    w: f.World,
    starts: datetime,
    *,
    activity: str | None = TITLE,
    page: int | None = 12,
    link: str | None = None,
) -> Meeting:
    assert w.community.id is not None
    meeting = await m.schedule_meeting(
        w.programme,
        m.MeetingInput(
            community_id=w.community.id,
            starts_at=starts,
            venue="Staff room",
            activity=activity,
            activity_page=page,
            activity_link=link,
        ),
        session=session,
        actor=OP,
        now=starts - timedelta(days=10),
    )
    await session.commit()
    return meeting


async def messages(session: AsyncSession, meeting: Meeting, kind: str) -> list[Message]:
    query = select(Message).where(col(Message.meeting_id) == meeting.id, col(Message.kind) == kind)
    query = query.order_by(col(Message.id)).execution_options(populate_existing=True)
    return list((await session.exec(query)).all())


def one_segment(body: str) -> bool:
    size = measure(body)
    return size.encoding is Encoding.gsm7 and size.segments == 1


@pytest.fixture(scope="module")
def texts() -> SmsTexts:
    return SmsTexts.load()


# --- setting it -----------------------------------------------------------------


async def test_a_meeting_is_scheduled_with_its_activity_title_page_and_link(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14), link="https://cop.rw/a12")
    session.expunge_all()
    stored = await session.get(Meeting, meeting.id)
    assert stored is not None
    assert (stored.activity, stored.activity_page, stored.activity_link) == (
        TITLE,
        12,
        "https://cop.rw/a12",
    )


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"activity_page": 5}, "activity"),  # a page needs its title
        ({"activity": "", "activity_page": 5}, "activity"),
    ],
)
async def test_a_link_or_page_without_its_title_is_refused_and_nothing_changes(
    session: AsyncSession, edit: dict[str, object], field: str
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14), activity=None, page=None)
    meeting_id = meeting.id
    assert meeting_id is not None
    with pytest.raises(ValidationError) as refused:
        await m.update_meeting(
            w.programme, meeting_id, m.MeetingEdit.model_validate(edit), session=session, actor=OP
        )
    assert refused.value.field == field
    await session.rollback()
    session.expunge_all()
    stored = await session.get(Meeting, meeting_id)
    assert stored is not None and (stored.activity, stored.activity_page) == (None, None)


# --- the 48-hour reminder --------------------------------------------------------


async def test_the_48_hour_reminder_carries_the_activity_and_the_2_hour_one_does_not(
    session: AsyncSession, texts: SmsTexts
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert await reminders.queue_due_reminders(session, local(8, 14)) == 3
    await session.commit()
    first = await messages(session, meeting, outbox.REMINDER)
    assert {r.template for r in first} == {"reminder_activity"}
    assert first[0].params is not None
    assert first[0].params["activity"] == TITLE and first[0].params["activity_page"] == 12
    for row in first:
        assert row.template is not None and row.params is not None
        body = texts.render(
            row.template, row.language or Language.en, row.params, timezone=NAIROBI.key
        )
        assert TITLE in body and one_segment(body)

    assert await reminders.queue_due_reminders(session, local(10, 12)) == 3
    await session.commit()
    later = (await messages(session, meeting, outbox.REMINDER))[3:]
    assert {r.template for r in later} == {"reminder"}


@pytest.mark.parametrize("language", list(Language))
async def test_the_48_hour_reminder_is_one_segment_with_the_longest_name_and_title(
    session: AsyncSession, texts: SmsTexts, language: Language
) -> None:
    w = await f.world(session)
    w.community.name = LONG_NAME
    meeting = await meeting_at(session, w, local(10, 14), activity=LONG_TITLE, page=9999)
    assert meeting.id is not None
    await m.update_meeting(
        w.programme, meeting.id, m.MeetingEdit(venue=LONG_NAME[:200]), session=session, actor=OP
    )
    await reminders.queue_due_reminders(session, local(8, 14))
    await session.commit()
    rows = await messages(session, meeting, outbox.REMINDER)
    assert rows and {r.template for r in rows} == {"reminder_activity"}
    assert rows[0].template is not None and rows[0].params is not None
    body = texts.render(rows[0].template, language, rows[0].params, timezone=NAIROBI.key)
    assert one_segment(body), body
    assert LONG_TITLE[:11] in body and LONG_TITLE not in body  # cut to fit, still there
    first_sms = texts.render(
        rows[0].template, language, rows[0].params, timezone=NAIROBI.key, footer=True
    )
    assert one_segment(first_sms), first_sms  # with the opt-out line too


async def test_a_meeting_without_an_activity_gets_the_plain_reminder(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14), activity=None, page=None)
    await reminders.queue_due_reminders(session, local(8, 14))
    await session.commit()
    assert {r.template for r in await messages(session, meeting, outbox.REMINDER)} == {"reminder"}


# --- the facilitators' prepare SMS ------------------------------------------------


@pytest.mark.parametrize("language", list(Language))
async def test_facilitators_get_the_prepare_sms_once_48_hours_before_in_their_language(
    session: AsyncSession, texts: SmsTexts, language: Language
) -> None:
    w = await f.world(session)
    w.facilitator.language = language
    meeting = await meeting_at(session, w, local(10, 14))
    assert await queue_prepare_messages(session, local(8, 13, 59)) == 0
    assert await queue_prepare_messages(session, local(8, 14)) == 1
    await session.commit()
    assert await queue_prepare_messages(session, local(8, 14, 1)) == 0  # once
    await session.commit()
    (row,) = await messages(session, meeting, outbox.PREPARE)
    assert (row.person_id, row.language, row.template) == (w.facilitator.id, language, "prepare")
    assert (row.status, row.send_after) == (MessageStatus.queued, local(8, 14))
    assert row.template is not None and row.params is not None
    body = texts.render(row.template, row.language or Language.en, row.params, timezone=NAIROBI.key)
    assert TITLE in body and meeting.code in body and one_segment(body)


async def test_no_prepare_for_a_cancelled_meeting_or_one_without_an_activity(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    bare = await meeting_at(session, w, local(10, 14), activity=None, page=None)
    cancelled = await meeting_at(session, w, local(11, 14))
    assert cancelled.id is not None
    await m.cancel_meeting(
        w.programme, cancelled.id, None, session=session, actor=OP, now=local(8, 9)
    )
    await session.commit()
    assert await queue_prepare_messages(session, local(9, 15)) == 0
    await session.commit()
    assert await messages(session, bare, outbox.PREPARE) == []
    assert await messages(session, cancelled, outbox.PREPARE) == []


async def test_a_prepare_held_by_quiet_hours_is_dropped_when_the_meeting_is_cancelled(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 21))  # 48 h before falls at 21:00
    assert meeting.id is not None
    await queue_prepare_messages(session, local(8, 21))
    (row,) = await messages(session, meeting, outbox.PREPARE)
    assert row.send_after == local(9, 7)  # the next morning
    await m.cancel_meeting(
        w.programme, meeting.id, None, session=session, actor=OP, now=local(8, 22)
    )
    await session.commit()
    (row,) = await messages(session, meeting, outbox.PREPARE)
    assert row.status is MessageStatus.dropped


async def test_a_moved_meeting_is_prepared_again_for_its_new_time(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    await queue_prepare_messages(session, local(8, 14))
    assert meeting.id is not None
    await m.reschedule_meeting(
        w.programme, meeting.id, local(12, 9), session=session, actor=OP, now=local(8, 16)
    )
    await session.commit()
    assert await queue_prepare_messages(session, local(9, 9)) == 0  # not yet 48 h before
    assert await queue_prepare_messages(session, local(10, 9)) == 1
    await session.commit()
    rows = await messages(session, meeting, outbox.PREPARE)
    assert [r.status for r in rows] == [MessageStatus.dropped, MessageStatus.queued]
    assert rows[1].params is not None
    assert rows[1].params["starts_at"] == local(12, 9).astimezone(UTC).isoformat()


async def test_an_opted_out_facilitator_and_members_get_no_prepare(session: AsyncSession) -> None:
    w = await f.world(session)
    await opt_out(w.facilitator, channel=Channel.sms, session=session, actor=OP)
    meeting = await meeting_at(session, w, local(10, 14))
    assert await queue_prepare_messages(session, local(8, 14)) == 0
    await session.commit()
    assert await messages(session, meeting, outbox.PREPARE) == []


async def test_an_activity_added_within_48_hours_is_prepared_at_once(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14), activity=None, page=None)
    assert meeting.id is not None and w.facilitator.id is not None
    assert await queue_prepare_messages(session, local(9, 8)) == 0
    facilitator = Actor.person(w.facilitator.id, Channel.ussd)
    edit = m.MeetingEdit(activity=TITLE)
    await m.update_meeting(
        w.programme, meeting.id, edit, session=session, actor=facilitator, now=local(9, 9)
    )
    assert await queue_prepare_messages(session, local(9, 9, 1)) == 1


def test_the_worker_runs_the_prepare_job() -> None:
    assert "queue_prepare_messages" in {job.name for job in DEFAULT_JOBS}
