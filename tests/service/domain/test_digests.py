"""School leaders' weekly digest: once a week each, at the programme's day and time,
about their school's CoPs, in their language, within three SMS segments."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import digests
from service.domain.people import opt_out
from service.domain.programmes import ProgrammeSettings, update_programme
from service.domain.segments import measure
from service.models import Message
from service.models.enums import Channel, Encoding, Language, Weekday
from sms.texts import SmsTexts
from tests.leaders import OP, SchoolWorld, school_world

NAIROBI = ZoneInfo("Africa/Nairobi")
MONDAY_7 = datetime(2031, 3, 3, 7, 0, tzinfo=NAIROBI)  # a Monday, programme time
TEXTS = SmsTexts.load()


async def digests_sent(session: AsyncSession, programme_id: int | None = None) -> list[Message]:
    session.expunge_all()
    stmt = select(Message).where(col(Message.kind) == digests.DIGEST).order_by(col(Message.id))
    if programme_id is not None:
        stmt = stmt.where(col(Message.programme_id) == programme_id)
    return list((await session.exec(stmt)).all())


def body(message: Message, timezone: str = "Africa/Nairobi") -> str:
    assert message.template is not None and message.language is not None
    return TEXTS.render(message.template, message.language, message.params or {},
                        timezone=timezone)  # fmt: skip


async def world(session: AsyncSession, language: Language = Language.en) -> SchoolWorld:
    return await school_world(session, language, MONDAY_7)


@pytest.mark.parametrize("language", list(Language))
async def test_at_monday_seven_each_leader_gets_one_digest_of_their_schools_week(
    session: AsyncSession, language: Language
) -> None:
    w = await world(session, language)
    queued = await digests.queue_digests(session, MONDAY_7.astimezone(NAIROBI))
    await session.commit()
    sent = await digests_sent(session)
    by_person = {m.person_id: m for m in sent}
    assert queued == len(sent) == 3  # head and deputy; the neighbour's head (the cluster)
    assert set(by_person) == {w.head.id, w.deputy.id, w.neighbour_head.id}
    mine = by_person[w.head.id]
    assert mine.language is language and mine.phone == w.head.phone
    assert mine.params is not None
    [meeting] = mine.params["meetings"]
    assert (meeting["community"], meeting["yes"], meeting["no"]) == (w.community.name, 2, 1)
    assert datetime.fromisoformat(meeting["starts_at"]) == w.coming.starts_at
    assert (mine.params["held"], mine.params["attended"], mine.params["expected"]) == (1, 1, 3)
    # The school's own teacher first, then the cluster's teacher from the neighbour school.
    assert mine.params["at_risk"] == [w.missed.name, w.visitor.name]
    assert w.came.name not in mine.params["at_risk"]
    text = body(mine)
    assert w.missed.name in text and w.visitor.name in text and "1/3" in text
    size = measure(text)
    assert size.encoding is Encoding.gsm7 and size.segments <= 2, text
    # The neighbour's head reads their own teacher first.
    assert by_person[w.neighbour_head.id].params["at_risk"] == [w.visitor.name, w.missed.name]  # type: ignore[index]


async def test_no_digest_before_the_time(session: AsyncSession) -> None:
    await world(session)
    for early in (MONDAY_7 - timedelta(minutes=1), MONDAY_7 - timedelta(days=1)):
        assert await digests.queue_digests(session, early) == 0
    await session.commit()
    assert await digests_sent(session) == []


async def test_one_digest_a_week_however_often_the_job_runs(session: AsyncSession) -> None:
    w = await world(session)
    for later in (timedelta(0), timedelta(minutes=5), timedelta(hours=20), timedelta(days=1)):
        await digests.queue_digests(session, MONDAY_7 + later)
        await session.commit()
    assert len(await digests_sent(session, w.pid)) == 3
    # Too late for a catch-up: nothing more until next Monday, which sends again.
    for later in (timedelta(days=2), timedelta(days=7)):
        await digests.queue_digests(session, MONDAY_7 + later)
        await session.commit()
    assert len(await digests_sent(session, w.pid)) == 6


async def test_another_programme_sends_on_its_own_day_about_its_own_schools(
    session: AsyncSession,
) -> None:
    w = await world(session)
    await digests.queue_digests(session, MONDAY_7)
    await session.commit()
    monday = await digests_sent(session)
    assert w.other_head.id not in {m.person_id for m in monday}
    assert all(w.other_community.name not in body(m) for m in monday)

    kigali = ZoneInfo("Africa/Kigali")
    wednesday_7 = datetime(2031, 3, 5, 7, 0, tzinfo=kigali)
    assert await digests.queue_digests(session, wednesday_7 - timedelta(minutes=1)) == 0
    assert await digests.queue_digests(session, wednesday_7) == 1
    await session.commit()
    [theirs] = [m for m in await digests_sent(session) if m.person_id == w.other_head.id]
    assert theirs.params is not None
    assert [m["community"] for m in theirs.params["meetings"]] == [w.other_community.name]
    assert w.community.name not in body(theirs, "Africa/Kigali")


async def test_a_programme_moves_its_digest_to_another_day_and_time(
    session: AsyncSession,
) -> None:
    w = await world(session)
    await update_programme(
        w.pid,
        ProgrammeSettings(digest_day=Weekday.friday, digest_time=time(16, 30)),
        session=session,
        actor=OP,
    )
    await session.commit()
    assert await digests.queue_digests(session, MONDAY_7) == 0
    friday = MONDAY_7 + timedelta(days=4)
    assert await digests.queue_digests(session, friday.replace(hour=16, minute=29)) == 0
    assert await digests.queue_digests(session, friday.replace(hour=16, minute=30)) == 3


async def test_quiet_hours_hold_the_digest_as_any_sms(session: AsyncSession) -> None:
    w = await world(session)
    w.programme.quiet_hours_start, w.programme.quiet_hours_end = time(6, 0), time(9, 0)
    await session.commit()
    await digests.queue_digests(session, MONDAY_7)
    await session.commit()
    sent = await digests_sent(session)
    assert sent and all(m.send_after == MONDAY_7.replace(hour=9) for m in sent)


async def test_no_digest_for_a_school_without_a_cop_an_opted_out_leader_or_no_phone(
    session: AsyncSession,
) -> None:
    w = await world(session)
    await opt_out(w.deputy, session=session, channel=Channel.sms, actor=OP)
    w.head.phone = None
    await session.commit()
    await digests.queue_digests(session, MONDAY_7)
    await session.commit()
    assert {m.person_id for m in await digests_sent(session)} == {w.neighbour_head.id}


async def test_the_numbers_given_are_only_those_of_the_schools_own_teachers(
    session: AsyncSession,
) -> None:
    w = await world(session)
    assert w.school.id and w.neighbour.id
    week = await digests.school_week(session, w.pid, "Africa/Nairobi", w.school.id, MONDAY_7)
    assert week is not None
    assert [(r.name, r.phone, r.own_school) for r in week.at_risk] == [
        (w.missed.name, w.missed.phone, True),
        (w.visitor.name, None, False),
    ]
    theirs = await digests.school_week(session, w.pid, "Africa/Nairobi", w.neighbour.id, MONDAY_7)
    assert theirs is not None
    assert [(r.name, r.phone) for r in theirs.at_risk] == [
        (w.visitor.name, w.visitor.phone),
        (w.missed.name, None),
    ]
    lonely = await digests.school_week(
        session, w.pid, "Africa/Nairobi", w.lonely_head.school_id or 0, MONDAY_7
    )
    assert lonely is None


@pytest.mark.parametrize("language", list(Language))
async def test_a_busy_school_fits_three_segments_listing_the_names_that_fit(
    language: Language,
) -> None:
    long = "Groupe Scolaire Sainte Bernadette de Kamembe Mathematics"
    params = {
        "school": long,
        "meetings": [
            {"community": f"{long} {n}", "starts_at": MONDAY_7.isoformat(), "yes": 99, "no": 99}
            for n in range(digests.MAX_MEETINGS)
        ],
        "more_meetings": 4,
        "held": 9,
        "attended": 999,
        "expected": 1000,
        "at_risk": [f"Jean de Dieu Nsengiyumva {n}" for n in range(digests.MAX_NAMES)],
        "at_risk_total": 45,
    }
    text = TEXTS.render("digest", language, params, timezone="Africa/Nairobi", footer=True)
    size = measure(text)
    assert size.encoding is Encoding.gsm7 and size.segments <= 3, text
    assert "Jean de Dieu" in text and "+" in text  # some names, then how many more
    shown = text.count("Jean de Dieu")
    assert str(45 - shown) in text


@pytest.mark.parametrize("language", list(Language))
def test_a_quiet_school_fits_one_segment(language: Language) -> None:
    params = {
        "school": "GS Kimironko", "meetings": [], "more_meetings": 0, "held": 0,
        "attended": 0, "expected": 0, "at_risk": [], "at_risk_total": 0,
    }  # fmt: skip
    text = TEXTS.render("digest", language, params, timezone="Africa/Nairobi", footer=True)
    assert measure(text).segments == 1 and "GS Kimironko" in text


def test_a_new_programme_sends_its_digest_on_monday_at_seven() -> None:
    from service.models import Programme

    programme = Programme(timezone="Africa/Nairobi")  # type: ignore[call-arg]
    assert (programme.digest_day, programme.digest_time) == (Weekday.monday, time(7, 0))
    assert digests.due_digest(programme, MONDAY_7) == MONDAY_7
    assert digests.due_digest(programme, MONDAY_7 - timedelta(seconds=1)) is None


@pytest.mark.parametrize("language", list(Language))
def test_whatever_the_week_holds_the_digest_names_someone_at_risk(language: Language) -> None:
    """However many meetings, with whatever names, meetings give way to the first name."""
    for meetings in range(digests.MAX_MEETINGS + 1):
        for length in range(4, 31, 3):
            params = {
                "school": "S" * length,
                "meetings": [
                    {"community": "C" * length, "starts_at": MONDAY_7.isoformat(), "yes": 9,
                     "no": 9}
                    for _ in range(meetings)
                ],
                "more_meetings": 0, "held": 1, "attended": 9, "expected": 10,
                "at_risk": ["Wanjiku Kamau"], "at_risk_total": 1,
            }  # fmt: skip
            text = TEXTS.render("digest", language, params, timezone="Africa/Nairobi", footer=True)
            assert measure(text).segments <= 3 and "Wanjiku Kamau" in text, (meetings, text)
