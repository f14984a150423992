"""AT's SMS callbacks over HTTP: delivery reports and inbound keywords, table by table."""

from __future__ import annotations

import asyncio
import concurrent.futures
from datetime import UTC, time, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.app import create_app
from service.config import Settings
from service.db import SessionFactory
from service.domain.actor import Actor
from service.domain.attendance import record_rsvp
from service.models import Attendance, Meeting, Message, Person, UnmatchedReport
from service.models.enums import (
    Channel,
    ConsentState,
    Country,
    Direction,
    Language,
    MeetingStatus,
    MessageStatus,
    Presence,
    Rsvp,
)
from service.models.types import utcnow
from sms.delivery import UNMATCHED_KEEP, settle_unmatched
from sms.texts import SmsTexts
from tests import factories as f
from tests.sms.outbox import Script, queued_world, rows, sender

TOKEN = "dev-callback-token"
TEXTS = SmsTexts.load()


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


async def test_a_report_that_beats_the_sender_waits_in_the_database_and_lands_with_the_id(
    settings: Settings, session: AsyncSession, sessions: SessionFactory
) -> None:
    # AT took the message; the sender has not stored its id yet when the report comes.
    w, clock = await queued_world(session, members=2)
    phone = w.members[0].phone
    assert phone is not None
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://at.test"
    ) as early:
        answer = await report(early, id="ATXid_early", status="Success", phoneNumber=phone)
    assert answer.status_code == 200
    await app.state.services.engine.dispose()  # the web process restarts meanwhile
    [waiting] = await fresh(session, UnmatchedReport)
    assert (waiting.provider_id, waiting.status) == ("ATXid_early", MessageStatus.delivered)

    gateway = Script(ids={phone: "ATXid_early"})
    await sender(sessions, gateway, clock).send_due()

    by_phone = {r.phone: r for r in await rows(sessions)}
    assert by_phone[phone].status is MessageStatus.delivered
    assert by_phone[phone].provider_id == "ATXid_early"
    assert {r.status for p, r in by_phone.items() if p != phone} == {MessageStatus.sent}
    assert await fresh(session, UnmatchedReport) == []


async def test_reports_racing_the_senders_write_of_their_ids_are_never_missed(
    settings: Settings, session: AsyncSession, sessions: SessionFactory
) -> None:
    _, clock = await queued_world(session, members=151)  # 152 reminders
    app = create_app(settings)
    loop = asyncio.get_running_loop()
    posts: list[concurrent.futures.Future[httpx.Response]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://at.test"
    ) as c:
        gateway = Script()

        def at_reports_at_once() -> None:
            # AT reports while its answer is still on the way back: the reports and the
            # sender's write of the ids race each other.
            for number in gateway.requests[-1][1]:
                ids = f"ATXid_{number[-6:]}_{len(gateway.requests)}"
                posts.append(
                    asyncio.run_coroutine_threadsafe(
                        report(c, id=ids, status="Success", phoneNumber=number), loop
                    )
                )

        gateway.during = at_reports_at_once
        await sender(sessions, gateway, clock, parallel_requests=1).send_due()
        answers = await asyncio.gather(*(asyncio.wrap_future(p) for p in posts))
        assert len(answers) == 152 and {a.status_code for a in answers} == {200}
    await app.state.reports.close()
    await app.state.services.engine.dispose()

    assert {r.status for r in await rows(sessions)} == {MessageStatus.delivered}
    assert await fresh(session, UnmatchedReport) == []


async def test_a_report_for_an_id_not_stored_never_settles_another_message_of_that_phone(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # An earlier batch's message timed out: AT may or may not have it, and no id came back.
    message_id = await sent_message(session, MessageStatus.unknown)
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    row.provider_id = None
    await session.commit()
    # A later batch's report, for the same phone, arrives before its id is stored.
    answer = await report(client, id="ATXid_later", status="Success", phoneNumber=row.phone)
    assert answer.status_code == 200

    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert (row.status, row.provider_id) == (MessageStatus.unknown, None)
    assert [u.provider_id for u in await fresh(session, UnmatchedReport)] == ["ATXid_later"]


async def test_the_sweep_applies_a_waiting_report_once_its_id_is_stored_and_expires_the_rest(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    message_id = await sent_message(session, MessageStatus.sending)
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    row.provider_id = None
    await session.commit()
    await report(client, id="ATXid_abc", status="Failed", failureReason="DeliveryFailure")
    await report(client, id="ATXid_never", status="Success")
    # The sender stored the id while the report was being written: neither saw the other.
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    row.provider_id, row.status = "ATXid_abc", MessageStatus.sent
    await session.commit()

    now = utcnow()
    assert await settle_unmatched(session, now) == 1
    await session.commit()
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert (row.status, row.last_error) == (MessageStatus.failed, "Failed: DeliveryFailure")
    assert [u.provider_id for u in await fresh(session, UnmatchedReport)] == ["ATXid_never"]

    assert await settle_unmatched(session, now + UNMATCHED_KEEP + timedelta(minutes=1)) == 0
    await session.commit()
    assert await fresh(session, UnmatchedReport) == []


async def test_reports_for_unknown_ids_cost_one_indexed_lookup_and_are_not_retried(
    settings: Settings, session: AsyncSession
) -> None:
    await sent_message(session, MessageStatus.unknown)
    app = create_app(settings)
    statements: list[str] = []
    engine = app.state.services.engine.sync_engine
    sa.event.listen(
        engine, "before_cursor_execute", lambda *args: statements.append(str(args[2]).lower())
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://at.test"
    ) as c:
        answers = await asyncio.gather(
            *(
                report(c, id=f"ATXid_stray_{n}", status="Success", phoneNumber="+254700000001")
                for n in range(200)
            )
        )
        assert {a.status_code for a in answers} == {200}
        batches = len([s for s in statements if "from message" in s])
        await asyncio.sleep(1.5)  # nothing keeps trying them in the background
        assert len([s for s in statements if "from message" in s]) == batches
    await app.state.reports.close()
    await app.state.services.engine.dispose()

    reading = [s for s in statements if "from message" in s]
    assert reading and all("message.provider_id in" in s for s in reading)
    assert not any("message.phone" in s for s in statements)
    assert len(reading) <= 200 / 5  # grouped: each lookup serves many reports
    assert len(await fresh(session, UnmatchedReport)) == 200


async def test_a_report_that_the_number_blocks_our_sender_stops_that_person(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    message_id = await sent_message(session)
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    queued = Message(
        programme_id=row.programme_id,
        person_id=row.person_id,
        direction=Direction.outbound,
        kind="broadcast",
        phone=row.phone,
        body="Term dates",
        status=MessageStatus.queued,
        send_after=utcnow() + timedelta(hours=2),
    )
    session.add(queued)
    await session.commit()

    answer = await report(client, id="ATXid_abc", status="Failed", failureReason="UserInBlackList")
    assert answer.status_code == 200

    [person] = await fresh(session, Person, col(Person.id) == row.person_id)
    assert person.opted_out_at is not None and person.opted_out_channel is Channel.sms
    [later] = await fresh(session, Message, col(Message.id) == queued.id)
    assert (later.status, later.last_error) == (
        MessageStatus.dropped,
        "the number blocks our sender id",
    )
    [row] = await fresh(session, Message, col(Message.id) == message_id)
    assert (row.status, row.last_error) == (MessageStatus.failed, "Failed: UserInBlackList")


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
    "yes": {
        Language.en: "YES",
        Language.sw: "Ndiyo",
        Language.rw: "yego",
        Language.fr: "Oui",
        Language.ny: "INDE",
    },
    "no": {
        Language.en: "no",
        Language.sw: "HAPANA",
        Language.rw: "Oya",
        Language.fr: "non",
        Language.ny: "Ayi",
    },
    "here": {
        Language.en: "Here",
        Language.sw: "nipo",
        Language.rw: "NDAHARI",
        Language.fr: "ici",
        Language.ny: "Ndilipo",
    },
    "stop": {
        Language.en: "STOP",
        Language.sw: "acha",
        Language.rw: "Hagarika",
        Language.fr: "arrêt",
        Language.ny: "LEKANI",
    },
    "start": {
        Language.en: "start",
        Language.sw: "ANZA",
        Language.rw: "tangira",
        Language.fr: "Début",
        Language.ny: "yambani",
    },
    "help": {
        Language.en: "HELP",
        Language.sw: "msaada",
        Language.rw: "ubufasha",
        Language.fr: "aide",
        Language.ny: "Thandizo",
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


async def test_a_malawi_teacher_answers_inde_and_is_thanked_in_chichewa(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await f.world(session, slug="mw-cops", country=Country.MW, timezone="Africa/Blantyre")
    w.community.name = "Aphunzitsi a Chiŵembe"
    await session.commit()
    teacher = w.members[0]
    assert teacher.language is Language.ny  # the Malawi programme's own language

    await texter(client, teacher).send(f"INDE {w.meeting.code}")
    row = await attendance(session, w.meeting, teacher)
    assert (row.rsvp, row.rsvp_channel) == (Rsvp.yes, Channel.sms)
    [reply] = await replies(session, teacher)
    assert (reply.template, reply.language) == ("rsvp_yes", Language.ny)
    text = TEXTS.render("rsvp_yes", Language.ny, reply.params or {}, timezone="Africa/Blantyre")
    assert text.startswith("Zikomo! Tidzaonana ku Aphunzitsi a Chiwembe pa ")
    assert text.endswith(f"yankhani NDILIPO {w.meeting.code}.")


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
    # Someone in no community: a member's words go to their facilitators instead.
    w = await f.world(session)
    phone = texter(client, w.outsider)
    await phone.send("habari za asubuhi")
    await phone.send("hello?")
    await phone.send("🙂")
    assert [r.template for r in await replies(session, w.outsider)] == ["unknown"]
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
        Language.ny: "Kumbutsa",
    }
    cancel = {
        Language.en: "cancel",
        Language.sw: "GHAIRI",
        Language.rw: "subika",
        Language.fr: "Annuler",
        Language.ny: "letsani",
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
