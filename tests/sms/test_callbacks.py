"""AT's SMS callbacks over HTTP: delivery reports and inbound keywords, table by table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, time, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.app import create_app
from service.config import Settings
from service.db import SessionFactory
from service.domain.actor import Actor
from service.domain.attendance import record_rsvp
from service.models import Attendance, Meeting, Message, Person
from service.models.enums import (
    Channel,
    ConsentState,
    Direction,
    Language,
    MeetingStatus,
    MessageStatus,
    Presence,
    Rsvp,
)
from service.models.types import utcnow
from sms.texts import SmsTexts
from tests import factories as f

TOKEN = "dev-callback-token"
TEXTS = SmsTexts.load()


@pytest_asyncio.fixture
async def client(settings: Settings, sessions: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://at.test"
    ) as c:
        yield c
    # Without a lifespan here, stop the report sink's retries of early reports by hand.
    await app.state.reports.close()
    await app.state.services.engine.dispose()


async def fresh(session: AsyncSession, model: Any, *where: Any) -> list[Any]:
    await session.rollback()
    session.expunge_all()
    return list((await session.exec(select(model).where(*where).order_by(model.id))).all())


# --- delivery reports ---------------------------------------------------------------


async def sent_message(session: AsyncSession, status: MessageStatus = MessageStatus.sent) -> int:
    w = await f.world(session)
    row = Message(
        programme_id=w.pid,
        person_id=w.members[0].id,
        direction=Direction.outbound,
        kind="reminder",
        phone=w.members[0].phone or "",
        body="hello",
        status=status,
        provider_id="ATXid_abc",
        send_after=utcnow(),
    )
    session.add(row)
    await session.commit()
    assert row.id is not None
    return row.id


async def report(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await client.post(f"/at/{TOKEN}/sms/delivery", data=form)


@pytest.mark.parametrize(
    ("reported", "stored", "reason"),
    [
        ("Sent", MessageStatus.sent, None),
        ("Submitted", MessageStatus.sent, None),
        ("Buffered", MessageStatus.sent, None),
        ("Success", MessageStatus.delivered, None),
        ("Rejected", MessageStatus.failed, "Rejected: DeliveryFailure"),
        ("Failed", MessageStatus.failed, "Failed: DeliveryFailure"),
        ("Expired", MessageStatus.failed, "Expired: DeliveryFailure"),
    ],
)
async def test_every_delivery_status_lands_as_ours(
    client: httpx.AsyncClient,
    session: AsyncSession,
    reported: str,
    stored: MessageStatus,
    reason: str | None,
) -> None:
    message_id = await sent_message(session)
    form = {"id": "ATXid_abc", "status": reported, "phoneNumber": "+254712100001"}
    if reason:
        form["failureReason"] = "DeliveryFailure"
    response = await report(client, **form, networkCode="63902", retryCount="0")
    assert response.status_code == 200
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert row.status is stored
    assert row.last_error == reason
    assert (row.delivered_at is not None) == (stored is MessageStatus.delivered)


@pytest.mark.parametrize(
    ("first", "then", "stays"),
    [
        ("Success", "Failed", MessageStatus.delivered),
        ("Success", "Buffered", MessageStatus.delivered),
        ("Failed", "Success", MessageStatus.failed),
        ("Success", "Success", MessageStatus.delivered),  # a duplicate
    ],
)
async def test_status_only_moves_forward(
    client: httpx.AsyncClient, session: AsyncSession, first: str, then: str, stays: MessageStatus
) -> None:
    message_id = await sent_message(session)
    assert (await report(client, id="ATXid_abc", status=first)).status_code == 200
    assert (await report(client, id="ATXid_abc", status=then)).status_code == 200
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert row.status is stays


async def test_reports_arriving_together_each_land_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    for n in range(40):
        session.add(
            Message(
                programme_id=w.pid, person_id=w.members[0].id, direction=Direction.outbound,
                kind="reminder", phone=f"+2547120000{n:02d}", body="hello",
                status=MessageStatus.sent, provider_id=f"ATXid_{n}", send_after=utcnow(),
            )
        )  # fmt: skip
    await session.commit()
    posts = [report(client, id=f"ATXid_{n}", status="Success") for n in range(40)]
    posts += [report(client, id=f"ATXid_{n}", status="Success") for n in range(0, 40, 3)]
    answers = await asyncio.gather(*posts)
    assert {a.status_code for a in answers} == {200}
    rows = await fresh(session, Message, col(Message.provider_id).is_not(None))
    assert {r.status for r in rows} == {MessageStatus.delivered}
    assert all(r.delivered_at is not None for r in rows)


async def test_a_report_settles_a_message_whose_lease_ran_out(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    message_id = await sent_message(session, MessageStatus.unknown)
    await report(client, id="ATXid_abc", status="Success")
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert row.status is MessageStatus.delivered


async def test_a_report_that_beats_the_sender_to_the_database_still_lands(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # AT took the message; the sender has not stored its id yet when the report comes.
    message_id = await sent_message(session, MessageStatus.sending)
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    row.provider_id = None
    await session.commit()
    assert (await report(client, id="ATXid_abc", status="Success")).status_code == 200

    [row] = await fresh(session, Message, col(Message.id) == message_id)
    row.provider_id, row.status = "ATXid_abc", MessageStatus.sent  # the sender's store
    await session.commit()

    async def delivered() -> bool:
        [row] = await fresh(session, Message, col(Message.id) == message_id)
        return row.status is MessageStatus.delivered

    for _ in range(60):
        if await delivered():
            break
        await asyncio.sleep(0.1)
    assert await delivered()


async def test_a_report_for_an_unknown_id_is_accepted_and_ignored(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    message_id = await sent_message(session)
    response = await report(client, id="ATXid_nobody", status="Success")
    assert response.status_code == 200
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert row.status is MessageStatus.sent


@pytest.mark.parametrize(
    "form",
    [
        {"status": "Success"},
        {"id": "ATXid_abc"},
        {"id": "ATXid_abc", "status": "Delivered!"},
        {"id": "ATXid_abc", "status": "Success", "retryCount": "two"},
        {"id": "", "status": "Success"},
    ],
)
async def test_a_malformed_report_is_refused_with_400(
    client: httpx.AsyncClient, session: AsyncSession, form: dict[str, str]
) -> None:
    message_id = await sent_message(session)
    assert (await report(client, **form)).status_code == 400
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert row.status is MessageStatus.sent


async def test_a_wrong_token_is_not_found(client: httpx.AsyncClient) -> None:
    for path in ("delivery", "inbound", "optout"):
        response = await client.post(f"/at/wrong/sms/{path}", data={"id": "x", "status": "Success"})
        assert response.status_code == 404


# --- inbound SMS ----------------------------------------------------------------------

WORDS: dict[str, dict[Language, str]] = {
    "yes": {Language.en: "YES", Language.sw: "Ndiyo", Language.rw: "yego", Language.fr: "Oui"},
    "no": {Language.en: "no", Language.sw: "HAPANA", Language.rw: "Oya", Language.fr: "non"},
    "here": {Language.en: "Here", Language.sw: "nipo", Language.rw: "NDAHARI", Language.fr: "ici"},
    "stop": {
        Language.en: "STOP",
        Language.sw: "acha",
        Language.rw: "Hagarika",
        Language.fr: "arrêt",
    },
    "start": {
        Language.en: "start",
        Language.sw: "ANZA",
        Language.rw: "tangira",
        Language.fr: "Début",
    },
    "help": {
        Language.en: "HELP",
        Language.sw: "msaada",
        Language.rw: "ubufasha",
        Language.fr: "aide",
    },
}
_ids = iter(range(1, 10_000_000))


class Texter:
    """A person's phone sending SMS to the service as AT forwards them."""

    def __init__(self, client: httpx.AsyncClient, phone: str) -> None:
        self.client, self.phone = client, phone

    async def send(self, text: str, *, at_id: str | None = None, date: str | None = None) -> str:
        at_id = at_id or f"ATInbound_{next(_ids)}"
        form = {
            "from": self.phone,
            "to": "20880",
            "text": text,
            "date": date or utcnow().strftime("%Y-%m-%d %H:%M:%S"),
            "id": at_id,
            "linkId": "SampleLinkId123",
            "networkCode": "63902",
        }
        response = await self.client.post(f"/at/{TOKEN}/sms/inbound", data=form)
        assert response.status_code == 200, response.text
        return at_id


async def replies(session: AsyncSession, person: Person) -> list[Message]:
    """The replies queued for the person; each must render in their language."""
    rows = await fresh(
        session,
        Message,
        col(Message.person_id) == person.id,
        col(Message.kind) == "reply",
    )
    for row in rows:
        assert row.template is not None and row.language is not None
        TEXTS.render(row.template, row.language, row.params or {}, timezone="Africa/Nairobi")
    return rows


async def attendance(session: AsyncSession, meeting: Meeting, person: Person) -> Attendance:
    row: Attendance
    [row] = await fresh(
        session,
        Attendance,
        col(Attendance.meeting_id) == meeting.id,
        col(Attendance.person_id) == person.id,
    )
    return row


def texter(client: httpx.AsyncClient, person: Person) -> Texter:
    assert person.phone is not None
    return Texter(client, person.phone)


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("keyword", ["yes", "no"])
async def test_an_rsvp_by_sms_in_each_language_with_and_without_the_code(
    client: httpx.AsyncClient, session: AsyncSession, language: Language, keyword: str
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    teacher.language = language
    await session.commit()
    phone = texter(client, teacher)
    word = WORDS[keyword][language]

    await phone.send(f"  {word}  {w.meeting.code} ")
    row = await attendance(session, w.meeting, teacher)
    assert row.rsvp is Rsvp(keyword) and row.rsvp_channel is Channel.sms
    [reply] = await replies(session, teacher)
    assert (reply.template, reply.language) == (f"rsvp_{keyword}", language)
    assert reply.status is MessageStatus.queued

    # with a single upcoming meeting the code may be left out
    other = "no" if keyword == "yes" else "yes"
    await phone.send(WORDS[other][language].lower())
    assert (await attendance(session, w.meeting, teacher)).rsvp is Rsvp(other)


async def test_without_a_code_and_several_meetings_the_reply_lists_their_codes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    second = await f.meeting(session, w.programme, w.community, starts_in=timedelta(days=9))
    await session.commit()
    await texter(client, w.members[0]).send("YES")
    [reply] = await replies(session, w.members[0])
    assert reply.template == "which_meeting"
    assert reply.params is not None
    assert reply.params["codes"] == [w.meeting.code, second.code]


@pytest.mark.parametrize(
    ("text", "template"),
    [("YES 0000", "unknown_code"), ("YES 12345", "unknown_code")],
)
async def test_an_unknown_code_gets_a_clear_reply(
    client: httpx.AsyncClient, session: AsyncSession, text: str, template: str
) -> None:
    w = await f.world(session)
    if w.meeting.code in text:
        pytest.skip("the random code collided with the test's")
    await texter(client, w.members[0]).send(text)
    [reply] = await replies(session, w.members[0])
    assert reply.template == template


@pytest.mark.parametrize("language", list(Language))
async def test_checking_in_by_sms_during_the_meeting(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    teacher.language = language
    running = await f.meeting(
        session,
        w.programme,
        w.community,
        starts_in=timedelta(minutes=50),
        at=utcnow() - timedelta(hours=1),
    )
    await session.commit()
    await texter(client, teacher).send(f"{WORDS['here'][language]} {running.code}")
    row = await attendance(session, running, teacher)
    assert row.presence is Presence.present
    assert [r.template for r in await replies(session, teacher)] == ["checked_in"]


async def test_checking_in_too_early_says_when_it_opens(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    await texter(client, w.members[0]).send(f"HERE {w.meeting.code}")
    assert [r.template for r in await replies(session, w.members[0])] == ["checkin_not_open"]


@pytest.mark.parametrize("language", list(Language))
async def test_stop_stops_everything_but_its_confirmation_and_start_restarts(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    teacher.language = language
    await session.commit()
    assert w.meeting.id is not None
    from service.domain.reminders import remind_now

    await remind_now(w.programme, w.meeting.id, session=session, actor=f.OPERATOR)
    await session.commit()
    phone = texter(client, teacher)

    await phone.send(WORDS["stop"][language])
    [person] = await fresh(session, Person, col(Person.id) == teacher.id)
    assert person.opted_out_at is not None and person.opted_out_channel is Channel.sms
    mine = await fresh(
        session,
        Message,
        col(Message.person_id) == teacher.id,
        col(Message.direction) == Direction.outbound,
    )
    assert {(m.kind, m.status) for m in mine} == {
        ("remind_now", MessageStatus.dropped),
        ("reply", MessageStatus.queued),
    }
    assert [r.template for r in await replies(session, teacher)] == ["stopped"]

    await phone.send(f"{WORDS['yes'][language]} {w.meeting.code}")  # ignored while stopped
    await phone.send(WORDS["help"][language])
    assert [r.template for r in await replies(session, teacher)] == ["stopped"]

    await phone.send(WORDS["start"][language])
    [person] = await fresh(session, Person, col(Person.id) == teacher.id)
    assert person.opted_out_at is None
    assert (person.consent, person.consent_channel) == (ConsentState.given, Channel.sms)
    assert person.consent_at is not None
    assert [r.template for r in await replies(session, teacher)] == ["stopped", "started"]


@pytest.mark.parametrize("language", list(Language))
async def test_help_in_each_language(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    w.members[0].language = language
    await session.commit()
    await texter(client, w.members[0]).send(f" {WORDS['help'][language]}. ")
    [reply] = await replies(session, w.members[0])
    assert (reply.template, reply.language) == ("help", language)


async def test_unknown_text_gets_one_help_reply_an_hour(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    phone = texter(client, w.members[0])
    await phone.send("habari za asubuhi")
    await phone.send("hello?")
    await phone.send("🙂")
    assert [r.template for r in await replies(session, w.members[0])] == ["unknown"]
    inbox = await fresh(session, Message, col(Message.direction) == Direction.inbound)
    assert [m.body for m in inbox] == ["habari za asubuhi", "hello?", "🙂"]  # all kept


async def test_a_repeated_post_is_stored_and_answered_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    phone = texter(client, w.members[0])
    at_id = await phone.send(f"YES {w.meeting.code}")
    await phone.send(f"YES {w.meeting.code}", at_id=at_id)
    assert len(await fresh(session, Message, col(Message.direction) == Direction.inbound)) == 1
    assert len(await replies(session, w.members[0])) == 1


@pytest.mark.parametrize(
    "date", ["2026-11-22 14:03:11", "2026-11-22T14:03:11Z", "2026-11-22T17:03:11+03:00", ""]
)
async def test_both_of_ats_date_formats_are_read(
    client: httpx.AsyncClient, session: AsyncSession, date: str
) -> None:
    w = await f.world(session)
    await texter(client, w.members[0]).send("HELP", date=date)
    [inbound] = await fresh(session, Message, col(Message.direction) == Direction.inbound)
    if date:
        assert (
            inbound.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            == "2026-11-22 14:03:11"
        )
    else:
        assert utcnow() - inbound.created_at < timedelta(minutes=1)


@pytest.mark.parametrize(
    "form",
    [
        {"to": "20880", "text": "YES", "id": "A1"},  # no from
        {"from": "+254712100001", "to": "20880", "text": "YES"},  # no id
        {"from": "+254712100001", "to": "20880", "id": "A1"},  # no text
        {"from": "+254712100001", "text": "YES", "id": "A1", "date": "yesterday"},
    ],
)
async def test_a_malformed_inbound_form_is_refused_with_400(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    assert (await client.post(f"/at/{TOKEN}/sms/inbound", data=form)).status_code == 400


async def test_a_stranger_is_stored_nowhere_and_answered_200(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await f.world(session)
    await Texter(client, "+254799999999").send("YES 1234")
    assert await fresh(session, Message, col(Message.direction) == Direction.inbound) == []


@pytest.mark.parametrize("language", list(Language))
async def test_a_facilitator_reminds_and_cancels_by_sms(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    w.facilitator.language = language
    # No quiet hours: the SMS go out now whatever the hour the test runs at.
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0, 0)
    await session.commit()
    remind = {
        Language.en: "REMIND",
        Language.sw: "kumbusha",
        Language.rw: "Ibutsa",
        Language.fr: "rappel",
    }
    cancel = {
        Language.en: "cancel",
        Language.sw: "GHAIRI",
        Language.rw: "subika",
        Language.fr: "Annuler",
    }
    phone = texter(client, w.facilitator)

    await phone.send(f"{remind[language]} {w.meeting.code}")
    reminded = await fresh(session, Message, col(Message.kind) == "remind_now")
    assert {m.person_id for m in reminded} == {m.id for m in w.members}
    await phone.send(f"{cancel[language]} {w.meeting.code}")
    [meeting] = await fresh(session, Meeting, col(Meeting.id) == w.meeting.id)
    assert meeting.status is MeetingStatus.cancelled
    assert [(r.template, r.language) for r in await replies(session, w.facilitator)] == [
        ("remind_sent", language),
        ("cancel_done", language),
    ]
    [done] = [r for r in await replies(session, w.facilitator) if r.template == "cancel_done"]
    assert done.params is not None and done.params["count"] == 2


async def test_a_member_cannot_remind_or_cancel(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    phone = texter(client, w.members[0])
    await phone.send(f"REMIND {w.meeting.code}")
    await phone.send(f"CANCEL {w.meeting.code}")
    assert [r.template for r in await replies(session, w.members[0])] == [
        "not_facilitator",
        "not_facilitator",
    ]
    [meeting] = await fresh(session, Meeting, col(Meeting.id) == w.meeting.id)
    assert meeting.status is MeetingStatus.scheduled


async def test_a_reply_about_a_closed_meeting_says_so(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None and w.members[0].id is not None
    await record_rsvp(
        w.pid,
        w.meeting.id,
        w.members[0].id,
        Rsvp.yes,
        session=session,
        actor=Actor.person(w.members[0].id, Channel.ussd),
    )
    from service.domain.meetings import cancel_meeting

    await cancel_meeting(w.programme, w.meeting.id, session=session, actor=f.OPERATOR)
    await session.commit()
    await texter(client, w.members[0]).send(f"NO {w.meeting.code}")
    assert [r.template for r in await replies(session, w.members[0])] == ["meeting_closed"]


async def test_ats_opt_out_callback_stops_the_person(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    response = await client.post(
        f"/at/{TOKEN}/sms/optout", data={"senderId": "COPLINE", "phoneNumber": teacher.phone or ""}
    )
    assert response.status_code == 200
    [person] = await fresh(session, Person, col(Person.id) == teacher.id)
    assert person.opted_out_at is not None
    assert (await client.post(f"/at/{TOKEN}/sms/optout", data={})).status_code == 400
