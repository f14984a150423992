"""A teacher's phone against the running app over HTTP, as Africa's Talking calls it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.app import create_app
from service.config import Settings
from service.domain.programmes import ProgrammeSettings, update_programme
from service.models import (
    Attendance,
    AuditEntry,
    Meeting,
    Membership,
    Person,
    UssdAction,
    UssdSession,
)
from service.models.enums import (
    Channel,
    Language,
    MembershipStatus,
    Modality,
    Presence,
    Rsvp,
    UssdOutcome,
)
from tests import factories as f
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"
MENU_ITEM = {"meetings": "1", "checkin": "2", "surveys": "3", "communities": "4", "language": "5"}


async def world(session: AsyncSession, language: Language = Language.en) -> f.World:
    w = await f.world(session)
    await update_programme(
        w.pid, ProgrammeSettings(languages=list(Language)), session=session, actor=f.OPERATOR
    )
    for person in (*w.members, w.facilitator):
        person.language = language
    await session.commit()
    return w


async def flush(client: httpx.AsyncClient) -> None:
    """Write the batched session tracking now (the app's background task does it every second)."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    await transport.app.state.ussd.tracker.flush()  # type: ignore[attr-defined]


def phone(client: httpx.AsyncClient, w: f.World, number: str | None) -> Phone:
    return Phone(
        client, number=number or "+254799000000", service_code=w.programme.service_code, token=TOKEN
    )


async def rows(session: AsyncSession, model: type) -> list:  # type: ignore[type-arg]
    """Rows as the app committed them: end this session's transaction (and its snapshot) first."""
    await session.rollback()
    session.expunge_all()
    return list((await session.exec(select(model).order_by(model.id))).all())  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", list(Language))
async def test_a_teacher_says_yes_in_their_language(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await world(session, language)
    p = phone(client, w, w.members[0].phone)
    await p.dial()
    await p.press(MENU_ITEM["meetings"])
    detail = await p.press("1")
    assert w.meeting.code in detail
    done = await p.press("1")
    assert p.ended and w.community.name in done
    [row] = await rows(session, Attendance)
    assert (row.person_id, row.rsvp, row.rsvp_channel) == (w.members[0].id, Rsvp.yes, Channel.ussd)


@pytest.mark.parametrize("language", list(Language))
async def test_a_teacher_declines_with_a_reason_from_the_list(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await world(session, language)
    p = phone(client, w, w.members[1].phone)
    for key in (None, "1", "1", "2", "3"):
        await (p.dial() if key is None else p.press(key))
    assert p.ended
    [row] = await rows(session, Attendance)
    assert (row.rsvp, row.rsvp_reason) == (Rsvp.no, "travel")


async def soon(session: AsyncSession, w: f.World, modality: Modality) -> Meeting:
    meeting = await f.meeting(
        session, w.programme, w.community, starts_in=timedelta(minutes=30), modality=modality
    )
    await session.commit()
    return meeting


@pytest.mark.parametrize("language", list(Language))
async def test_check_in_with_the_meeting_code_in_person_and_remotely(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await world(session, language)
    hybrid = await soon(session, w, Modality.hybrid)
    p = phone(client, w, w.members[0].phone)
    await p.dial()
    await p.press(MENU_ITEM["checkin"])
    how = await p.press(hybrid.code)
    assert how.count("\n") == 3  # question, here, remote, back
    await p.press("2")
    assert p.ended
    [row] = await rows(session, Attendance)
    assert (row.meeting_id, row.presence, row.presence_channel) == (
        hybrid.id,
        Presence.remote,
        Channel.ussd,
    )


async def test_checking_in_too_early_is_refused_politely(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await world(session)
    p = phone(client, w, w.members[0].phone)
    await p.dial()
    await p.press("2")
    answer = await p.press(w.meeting.code)  # in two days, in person
    assert p.ended and answer == "Check-in opens one hour before the meeting."
    assert await rows(session, Attendance) == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (Language.en, "Language saved: English."),
        (Language.fr, "Langue enregistrée : francais."),
        (Language.sw, "Lugha imehifadhiwa: Kiswahili."),
        (Language.rw, "Ururimi rwabitswe: Ikinyarwanda."),
    ],
)
async def test_a_teacher_switches_language_and_is_answered_in_it(
    client: httpx.AsyncClient, session: AsyncSession, language: Language, expected: str
) -> None:
    w = await world(session, Language.sw)
    p = phone(client, w, w.members[0].phone)
    await p.dial()
    menu = await p.press(MENU_ITEM["language"])
    choice = next(
        line.split(" ")[0]
        for line in menu.split("\n")
        if line.endswith(
            {"en": "English", "fr": "Francais", "sw": "Kiswahili", "rw": "Ikinyarwanda"}[
                language.value
            ]
        )
    )
    assert await p.press(choice) == expected
    person = next(p for p in await rows(session, Person) if p.id == w.members[0].id)
    assert person.language is language
    assert (await p.dial()).startswith(
        {"en": "Hi", "fr": "Bonjour", "sw": "Habari", "rw": "Muraho"}[language.value]
    )


@pytest.mark.parametrize("language", list(Language))
async def test_communities_surveys_and_navigation(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w = await world(session, language)
    p = phone(client, w, w.members[0].phone)
    home = await p.dial()
    await p.press(MENU_ITEM["communities"])
    detail = await p.press("1")
    assert w.community.name in detail and w.facilitator.name in detail and "3" in detail
    assert await p.press("00") == home
    surveys = await p.press(MENU_ITEM["surveys"])
    assert not p.ended and surveys.endswith("0 " + surveys.split("0 ")[-1])
    assert await p.press("0") == home


async def test_a_retried_hop_never_writes_twice(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await world(session)
    p = phone(client, w, w.members[0].phone)
    for key in (None, "1", "1"):
        await (p.dial() if key is None else p.press(key))
    first = await p.press("1")
    again = await p.retry()
    assert first == again and p.ended
    assert len(await rows(session, UssdAction)) == 1
    rsvps = (
        await session.exec(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "attendance.rsvp")
        )
    ).one()
    assert rsvps == 1


async def test_a_stranger_asks_to_join_with_a_code_and_waits_for_the_facilitator(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await world(session)
    p = phone(client, w, "+254799123456")
    welcome = await p.dial()
    assert (
        "haijasajiliwa" in welcome and w.community.name not in welcome
    )  # the programme's language
    await p.press("1")
    assert (await p.press("000000")).startswith("Msimbo wa kujiunga haupatikani.")
    await p.press(w.community.join_code)
    done = await p.press("Amina Wanjiku")
    assert p.ended and "Amina" in done
    await session.rollback()
    person = (await session.exec(select(Person).where(Person.phone == "+254799123456"))).one()
    membership = (
        await session.exec(select(Membership).where(Membership.person_id == person.id))
    ).one()
    assert (person.name, membership.status) == ("Amina Wanjiku", MembershipStatus.pending)


async def test_the_session_keeps_its_path_and_how_it_ended(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await world(session)
    p = phone(client, w, w.members[0].phone)
    await p.dial()
    await p.press("1")
    await p.press("1")
    await flush(client)
    [row] = await rows(session, UssdSession)
    assert (row.hops, row.last_screen, row.outcome, row.path) == (
        3,
        "meeting",
        UssdOutcome.open,
        "home>meetings>meeting",
    )
    response = await client.post(
        f"/at/{TOKEN}/ussd/events",
        data={
            "sessionId": p.session_id,
            "status": "Incomplete",
            "durationInMillis": "41000",
            "hopsCount": "3",
        },
    )
    assert response.status_code == 200
    [row] = await rows(session, UssdSession)
    assert (row.outcome, row.duration_ms, row.provider_status) == (
        UssdOutcome.abandoned,
        41000,
        "Incomplete",
    )


async def test_a_wrong_token_is_not_found_and_a_bad_form_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await world(session)
    form = {
        "sessionId": "s1",
        "serviceCode": w.programme.service_code,
        "phoneNumber": "+254712000000",
        "text": "",
    }
    assert (await client.post("/at/guess/ussd", data=form)).status_code == 404
    assert (await client.post("/at/guess/ussd/events", data={"sessionId": "s1"})).status_code == 404
    missing = await client.post(f"/at/{TOKEN}/ussd", data={"text": "1"})
    assert missing.status_code == 400 and "sessionId" in missing.text


async def test_an_unknown_service_code_ends_politely(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    form = {"sessionId": "s1", "serviceCode": "*999#", "phoneNumber": "+254712000000", "text": ""}
    response = await client.post(f"/at/{TOKEN}/ussd", data=form)
    assert response.status_code == 200 and response.text.startswith("END ")


async def test_a_database_outage_ends_the_session_politely_in_the_callers_language(
    tmp_path: object,
) -> None:
    from tests.e2e.conftest import free_port

    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere", _env_file=None
    )
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://at.test"
    ) as c:
        form = {
            "sessionId": "s1",
            "serviceCode": "*384*1#",
            "phoneNumber": "+254712000000",
            "text": "1*1",
        }
        response = await c.post(f"/at/{TOKEN}/ussd", data=form)
    assert response.status_code == 200
    assert response.text == "END Samahani, copline haipatikani sasa. Tafadhali jaribu tena baadaye."
    await app.state.services.engine.dispose()


async def test_after_the_database_drops_every_connection_the_next_dial_works(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("PostgreSQL drops connections on restart; SQLite has none to drop")
    from sqlalchemy import text

    w = await world(session)
    p = phone(client, w, w.members[0].phone)
    assert (await p.dial()).startswith("Hi")  # a pooled connection now exists
    await session.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )
    await session.commit()
    first = await p.dial()  # may meet a dead connection: a polite END, never an error page
    assert p.reply.startswith(("CON ", "END ")) and first
    assert (await p.dial()).startswith("Hi")  # the pool was invalidated and reconnected


async def test_the_form_reads_alike_urlencoded_and_multipart_and_refuses_a_huge_body(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await world(session)
    form = {
        "sessionId": "s-form",
        "serviceCode": w.programme.service_code,
        "phoneNumber": w.members[0].phone or "",
        "networkCode": "",
        "text": "1",
    }
    url = f"/at/{TOKEN}/ussd"
    encoded = await client.post(url, data=form)
    # Percent-escapes and '+' for a space, as AT's gateway may send them.
    escaped = await client.post(
        url,
        content="&".join(f"{k}={v}" for k, v in form.items()).replace("+", "%2B"),
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    multipart = await client.post(url, data=form, files={"unused": ("x.txt", b"x")})
    assert encoded.status_code == escaped.status_code == multipart.status_code == 200
    assert encoded.text == escaped.text == multipart.text and encoded.text.startswith("CON ")
    huge = await client.post(url, data={**form, "text": "1*" * 10_000})
    assert huge.status_code == 400


LONG_PHONE = "+2547" + "1" * 20
BAD_HOPS = [
    # (label, fields replaced in a good hop, the field the 400 names)
    ("a phone number over 15 digits", {"phoneNumber": LONG_PHONE}, "phoneNumber"),
    ("a phone number with letters", {"phoneNumber": "+25471200000x"}, "phoneNumber"),
    ("a NUL byte in the session id", {"sessionId": "ATUid_\x00abc"}, "sessionId"),
    ("a session id over 100 characters", {"sessionId": "ATUid_" + "a" * 100}, "sessionId"),
    ("a blank session id", {"sessionId": " "}, "sessionId"),
    ("a service code with letters", {"serviceCode": "*384*abc#"}, "serviceCode"),
    ("a service code over 32 characters", {"serviceCode": "*384*" + "1" * 40 + "#"}, "serviceCode"),
    ("a network code with letters", {"networkCode": "639ab"}, "networkCode"),
    ("a network code over 16 digits", {"networkCode": "6" * 17}, "networkCode"),
    ("a NUL byte in the text", {"text": "1*\x00"}, "text"),
    ("a control character in the text", {"text": "1*\x1b[2J"}, "text"),
    ("a text over 1000 characters", {"text": "1*" * 600}, "text"),
]


@pytest.mark.parametrize(
    ("fields", "named"), [row[1:] for row in BAD_HOPS], ids=[row[0] for row in BAD_HOPS]
)
async def test_a_hop_that_is_not_africas_talkings_is_refused_and_others_are_still_tracked(
    client: httpx.AsyncClient, session: AsyncSession, fields: dict[str, str], named: str
) -> None:
    from structlog.testing import capture_logs

    w = await world(session)
    teacher = phone(client, w, w.members[0].phone)
    await teacher.dial()
    form = {
        "sessionId": "ATUid_bad",
        "serviceCode": w.programme.service_code,
        "phoneNumber": "+254712000001",
        "networkCode": "63902",
        "text": "",
        **fields,
    }
    with capture_logs() as logs:
        response = await client.post(f"/at/{TOKEN}/ussd", data=form)
    assert response.status_code == 400 and named in response.text
    assert LONG_PHONE not in response.text and LONG_PHONE not in repr(logs)
    await teacher.press("1")
    await flush(client)
    assert [r.session_id for r in await rows(session, UssdSession)] == [teacher.session_id]


async def test_blank_optional_fields_of_a_hop_are_accepted(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await world(session)
    form = {
        "sessionId": "ATUid_ok",
        "serviceCode": w.programme.service_code,
        "phoneNumber": w.members[0].phone or "",
        "networkCode": "",
        "text": "",
    }
    response = await client.post(f"/at/{TOKEN}/ussd", data=form)
    assert response.status_code == 200 and response.text.startswith("CON ")


BAD_EVENTS = [
    ("a NUL byte in the session id", {"sessionId": "ATUid_\x00abc"}, "sessionId"),
    ("no session id", {"sessionId": ""}, "sessionId"),
    ("a status over 40 characters", {"status": "Incomplete" * 5}, "status"),
    ("a NUL byte in the status", {"status": "Fail\x00ed"}, "status"),
    ("a NUL byte in the error message", {"errorMessage": "timed\x00out"}, "errorMessage"),
    ("an error message over 1000 characters", {"errorMessage": "x" * 1001}, "errorMessage"),
    ("a duration past 32 bits", {"durationInMillis": "99999999999"}, "durationInMillis"),
    ("a duration that is not a number", {"durationInMillis": "4s"}, "durationInMillis"),
    ("a hop count that is not a number", {"hopsCount": "three"}, "hopsCount"),
    ("a phone number over 15 digits", {"phoneNumber": LONG_PHONE}, "phoneNumber"),
    ("a service code with letters", {"serviceCode": "*384*abc#"}, "serviceCode"),
    ("a network code with letters", {"networkCode": "639ab"}, "networkCode"),
    ("a NUL byte in the input", {"input": "1\x00"}, "input"),
    ("a NUL byte in the cost", {"cost": "KES\x000.05"}, "cost"),
    ("a NUL byte in the date", {"date": "2026-11-22\x00"}, "date"),
]


@pytest.mark.parametrize(
    ("fields", "named"), [row[1:] for row in BAD_EVENTS], ids=[row[0] for row in BAD_EVENTS]
)
async def test_an_end_of_session_notice_that_is_not_africas_talkings_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, fields: dict[str, str], named: str
) -> None:
    w = await world(session)
    teacher = phone(client, w, w.members[0].phone)
    await teacher.dial()
    event = {
        "sessionId": teacher.session_id,
        "serviceCode": w.programme.service_code,
        "phoneNumber": teacher.number,
        "networkCode": "63902",
        "status": "Incomplete",
        "durationInMillis": "41000",
        "hopsCount": "1",
        "input": "",
        "lastAppResponse": "CON Habari\n1 Mikutano",
        "errorMessage": "",
        "cost": "KES 0.0000",
        "date": "2026-11-22 09:00:00",
    }
    response = await client.post(f"/at/{TOKEN}/ussd/events", data={**event, **fields})
    assert response.status_code == 400 and named in response.text
    good = await client.post(f"/at/{TOKEN}/ussd/events", data=event)
    assert good.status_code == 200
    [row] = await rows(session, UssdSession)
    assert (row.outcome, row.duration_ms) == (UssdOutcome.abandoned, 41000)


async def test_an_end_of_session_notice_larger_than_africas_talkings_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await client.post(
        f"/at/{TOKEN}/ussd/events", data={"sessionId": "ATUid_x", "input": "1*" * 10_000}
    )
    assert response.status_code == 400


async def test_the_end_of_session_notice_is_recorded_when_a_pending_row_is_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    from structlog.testing import capture_logs

    w = await world(session)
    teacher = phone(client, w, w.members[0].phone)
    await teacher.dial()
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    tracker = transport.app.state.ussd.tracker  # type: ignore[attr-defined]
    other = dict(tracker.pending[teacher.session_id])
    tracker.record({**other, "session_id": "ATUid_gone", "programme_id": 999_999})
    with capture_logs() as logs:
        response = await client.post(
            f"/at/{TOKEN}/ussd/events",
            data={"sessionId": teacher.session_id, "status": "Failed", "durationInMillis": "900"},
        )
    assert response.status_code == 200
    assert teacher.number not in repr(logs)
    [row] = await rows(session, UssdSession)
    assert (row.session_id, row.outcome, row.duration_ms) == (
        teacher.session_id,
        UssdOutcome.failed,
        900,
    )
