"""CSV exports: one row per record, phones and people's own words only with pii, one programme.

The same small world serves the domain, the download and (in tests/service/cli) the
command: a Kenyan programme with a meeting in "Term 1" (marked) and one coming up in
"Term 2" (scheduled before its term was entered, so only its date places it), a
survey answered in each term, an SMS each way; and a Rwandan programme beside it
whose rows must never appear.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import Settings
from service.db import SessionFactory
from service.domain import exports, reports
from service.domain.attendance import record_presence, record_rsvp
from service.domain.communities import add_member, remove_member
from service.domain.errors import NotFound
from service.domain.exports import ExportKind
from service.domain.terms import TermInput, create_term
from service.models import (
    Answer,
    Meeting,
    Membership,
    Message,
    Person,
    Programme,
    Question,
    Survey,
    SurveyResponse,
)
from service.models.enums import (
    Channel,
    Country,
    Direction,
    Language,
    MembershipRole,
    MessageStatus,
    Presence,
    QuestionKind,
    ResponseStatus,
    Rsvp,
    Scope,
    SurveyStatus,
)
from tests import factories as f
from tests.service.api.conftest import issue_key, make_api
from tests.service.domain import test_reports
from tests.service.domain.test_reports import JOINED_LATE, JOINED_MID_TERM, PLANNED, join

WHOLE_PHONE = re.compile(r"\+2[0-9]{11}")
NAIROBI = ZoneInfo("Africa/Nairobi")
OWN_WORDS = "Tulijifunza mengi kuhusu sehemu"
INBOUND_SMS = "Pole, mtoto wangu ni mgonjwa"
REMINDER = "CoP CLUSTER-1: meeting soon. Reply YES or NO."


@dataclass
class Exportable:
    a: f.World
    b: f.World
    past: Meeting  # in Term 1, with marks
    people: list[Person]  # programme A's members and facilitator, all with phones

    @property
    def phones(self) -> list[str]:
        return [p.phone for p in self.people if p.phone]


async def _survey(session: AsyncSession, w: f.World, meeting: Meeting) -> list[Question]:
    survey = Survey(
        programme_id=w.pid,
        key="cop-check",
        title={"sw": "Tafakari", "en": "Reflection"},
        status=SurveyStatus.active,
        meeting_id=meeting.id,
    )
    session.add(survey)
    await session.flush()
    assert survey.id is not None
    questions = [
        Question(
            survey_id=survey.id,
            position=1,
            kind=QuestionKind.single_choice,
            text={"sw": "Mkutano ulisaidia?", "en": "Was the meeting useful?"},
            options=[{"sw": "Sana", "en": "Very"}, {"sw": "Kiasi", "en": "Somewhat"}],
        ),
        Question(
            survey_id=survey.id,
            position=2,
            kind=QuestionKind.yes_no,
            text={"sw": "Utajaribu darasani?", "en": "Will you try it in class?"},
        ),
        Question(
            survey_id=survey.id,
            position=3,
            kind=QuestionKind.short_text,
            text={"sw": "Ulijifunza nini?", "en": "What did you learn?"},
        ),
    ]
    session.add_all(questions)
    await session.flush()
    return questions


async def _response(
    session: AsyncSession,
    questions: list[Question],
    person: Person,
    meeting: Meeting,
    values: list[str],
    at: datetime,
    status: ResponseStatus,
) -> None:
    assert person.id is not None
    response = SurveyResponse(
        survey_id=questions[0].survey_id,
        person_id=person.id,
        meeting_id=meeting.id,
        channel=Channel.ussd,
        status=status,
        started_at=at,
    )
    session.add(response)
    await session.flush()
    assert response.id is not None
    for question, value in zip(questions, values, strict=False):
        assert question.id is not None
        session.add(
            Answer(
                response_id=response.id,
                question_id=question.id,
                value=value,
                channel=Channel.ussd,
                answered_at=at,
            )
        )


def _sms(w: f.World, person: Person, values: dict[str, Any]) -> Message:
    assert person.phone is not None
    return Message(programme_id=w.pid, person_id=person.id, phone=person.phone, **values)


async def build(session: AsyncSession) -> Exportable:
    a = await f.world(session)
    b = await f.world(
        session, slug="rw-sbi", country=Country.RW, timezone="Africa/Kigali", language=Language.rw
    )
    now = f.now()
    today = now.astimezone(NAIROBI).date()
    for name, first, last in (("Term 1", -70, -40), ("Term 2", -5, 30)):
        data = TermInput(
            name=name,
            starts_on=today + timedelta(days=first),
            ends_on=today + timedelta(days=last),
        )
        await create_term(a.programme, data, session=session, actor=f.OPERATOR)
    # Programme A's people joined before Term 1 (the factory joins them today).
    await session.execute(
        sa.update(Membership)
        .where(col(Membership.community_id) == a.community.id)
        .values(joined_at=now - timedelta(days=90))
    )
    # Scheduled when it was still ahead, so it takes Term 1's id.
    past = await f.meeting(session, a.programme, a.community, at=now - timedelta(days=60))
    assert past.id is not None and a.meeting.id is not None
    m0, m1 = a.members
    assert m0.id is not None and m1.id is not None
    day_before = past.starts_at - timedelta(days=1)
    await record_rsvp(
        a.pid, past.id, m0.id, Rsvp.yes, session=session, actor=f.OPERATOR, now=day_before
    )
    await record_rsvp(
        a.pid,
        past.id,
        m1.id,
        Rsvp.no,
        "Sick child",
        session=session,
        actor=f.OPERATOR,
        now=day_before,
    )
    await record_presence(
        a.pid,
        past.id,
        m0.id,
        Presence.present,
        session=session,
        actor=f.OPERATOR,
        now=past.starts_at,
    )
    await record_rsvp(a.pid, a.meeting.id, m0.id, Rsvp.yes, session=session, actor=f.OPERATOR)

    questions = await _survey(session, a, past)
    after = past.starts_at + timedelta(hours=2)
    await _response(
        session, questions, m0, past, ["1", "yes", OWN_WORDS], after, ResponseStatus.completed
    )
    await _response(session, questions, m1, a.meeting, ["2"], now, ResponseStatus.in_progress)
    b_questions = await _survey(session, b, b.meeting)
    b_values = ["1", "no", "Rwanda"]
    await _response(
        session, b_questions, b.members[0], b.meeting, b_values, now, ResponseStatus.completed
    )

    reminder = {
        "direction": Direction.outbound,
        "kind": "reminder",
        "template": "reminder",
        "body": REMINDER,
        "status": MessageStatus.delivered,
        "cost": Decimal("0.8000"),
        "currency": "KES",
        "provider_id": "ATXid_a1",
        "attempts": 1,
        "meeting_id": a.meeting.id,
        "community_id": a.community.id,
        "language": Language.sw,
        "created_at": now,
        "sent_at": now,
        "delivered_at": now,
    }
    reply = {
        "direction": Direction.inbound,
        "kind": "inbound",
        "body": INBOUND_SMS,
        "status": MessageStatus.received,
        "provider_id": "ATXid_a2",
        "created_at": day_before,
    }
    elsewhere = {
        **reminder,
        "body": "Rwanda",
        "provider_id": "ATXid_b1",
        "meeting_id": b.meeting.id,
    }
    elsewhere |= {"community_id": b.community.id, "currency": "RWF"}
    session.add_all([_sms(a, m0, reminder), _sms(a, m1, reply), _sms(b, b.members[0], elsewhere)])
    await session.commit()
    return Exportable(a=a, b=b, past=past, people=[a.facilitator, *a.members])


async def export(
    session: AsyncSession,
    programme: Programme,
    kind: ExportKind,
    *,
    term: str | None = None,
    pii: bool = False,
) -> str:
    spec = await exports.prepare(session, programme, term=term, pii=pii)
    return "".join(
        [chunk async for chunk in exports.csv_chunks(exports.EXPORTS[kind](session, spec))]
    )


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text)))


@pytest_asyncio.fixture
async def world(session: AsyncSession) -> Exportable:
    return await build(session)


# --- what each export holds ----------------------------------------------------------


async def test_attendance_is_one_row_per_meeting_and_member_marked_or_not(
    session: AsyncSession, world: Exportable
) -> None:
    text = await export(session, world.a.programme, ExportKind.attendance)
    assert header(text) == exports.ATTENDANCE_COLUMNS
    found = rows(text)
    meetings = [world.past, world.a.meeting]
    expected = {(str(m.id), str(p.id)) for m in meetings for p in world.people}
    assert sorted((r["meeting_id"], r["person_id"]) for r in found) == sorted(expected)
    assert str(world.a.outsider.id) not in {r["person_id"] for r in found}

    by = {(r["meeting_id"], r["person_id"]): r for r in found}
    m0, m1 = world.a.members
    came = by[(str(world.past.id), str(m0.id))]
    assert came["term"] == "Term 1" and came["community_code"] == "CLUSTER-1"
    assert (came["rsvp"], came["presence"]) == ("yes", "present")
    assert (came["rsvp_channel"], came["presence_channel"]) == ("cli", "cli")
    assert came["meeting_code"] == world.past.code and came["school_code"] == "SCH-1"
    assert came["meeting_starts_at"] == world.past.starts_at.astimezone(NAIROBI).isoformat()
    assert came["meeting_starts_at"].endswith("+03:00")
    sick = by[(str(world.past.id), str(m1.id))]
    assert (sick["rsvp"], sick["rsvp_reason"], sick["presence"]) == ("no", "Sick child", "unknown")
    coach = by[(str(world.past.id), str(world.a.facilitator.id))]
    assert (coach["membership_role"], coach["roles"], coach["rsvp"]) == (
        "facilitator",
        "coach",
        "none",
    )
    # The coming meeting has no term id; its date puts it in Term 2.
    assert {r["term"] for r in found if r["meeting_id"] == str(world.a.meeting.id)} == {"Term 2"}


async def test_a_member_is_listed_only_for_the_meetings_from_when_they_joined(
    session: AsyncSession, world: Exportable
) -> None:
    newcomer = await f.person(session, world.a.programme, name="Neema")
    assert newcomer.id is not None and world.a.community.id is not None
    await add_member(
        world.a.pid, world.a.community.id, newcomer.id, session=session, actor=f.OPERATOR
    )
    await session.commit()
    found = rows(await export(session, world.a.programme, ExportKind.attendance))
    listed = {r["meeting_id"] for r in found if r["person_id"] == str(newcomer.id)}
    assert listed == {str(world.a.meeting.id)}  # the coming meeting, not last term's


Seats = dict[tuple[str, str], tuple[int, int]]  # (community, role) -> (expected, attended)


def _seats_in_file(found: list[dict[str, str]]) -> Seats:
    seats: Seats = {}
    for r in found:
        if r["counted"] == "yes":
            key = (r["community_name"], r["membership_role"])
            expected, attended = seats.get(key, (0, 0))
            came = r["presence"] in ("present", "remote")
            seats[key] = (expected + 1, attended + came)
    return seats


async def test_the_attendance_file_gives_the_attendance_reports_figures(
    session: AsyncSession,
) -> None:
    b = await test_reports.build(session)
    present, absent = Presence.present, Presence.absent
    await join(session, b, "Fatuma", b.alpha, JOINED_MID_TERM, {"M2": present})
    await join(session, b, "Gideon", b.alpha, JOINED_LATE)
    facilitator = MembershipRole.facilitator
    await join(session, b, "Wanjiru", b.beta, PLANNED, {"M3": absent}, role=facilitator)
    assert b.programme.id is not None and b.beta.id is not None
    await remove_member(
        b.programme.id,
        b.beta.id,
        b.people["Daudi"].id or 0,
        session=session,
        actor=f.OPERATOR,
        now=JOINED_LATE,
    )
    await session.commit()

    found = rows(await export(session, b.programme, ExportKind.attendance))
    report = await reports.attendance(
        session, await reports.resolve(session, b.programme, reports.ReportFilter(), now=f.now())
    )
    from_report: Seats = {}
    for c in report.communities:
        for role, figures in (("member", c.figures), ("facilitator", c.facilitators)):
            if figures.expected:
                from_report[(c.name, role)] = (figures.expected, figures.attended)
    assert from_report == {
        ("Community ALPHA", "member"): (7, 5),  # Fatuma from M2 on; Gideon after both
        ("Community BETA", "member"): (2, 1),  # Daudi left after M3: still counted there
        ("Community BETA", "facilitator"): (1, 0),
    }
    assert _seats_in_file(found) == from_report
    names = {(r["name"], r["meeting_code"]) for r in found}
    assert ("Fatuma", b.meetings["M1"].code) not in names
    assert ("Gideon", b.meetings["M2"].code) not in names


async def test_responses_are_one_row_per_answer_with_the_option_label(
    session: AsyncSession, world: Exportable
) -> None:
    text = await export(session, world.a.programme, ExportKind.responses)
    assert header(text) == exports.RESPONSE_COLUMNS
    found = rows(text)
    assert [(r["name"], r["question_position"], r["value"]) for r in found] == [
        (world.a.members[0].name, "1", "1"),
        (world.a.members[0].name, "2", "yes"),
        (world.a.members[0].name, "3", ""),  # free text: people's own words need pii
        (world.a.members[1].name, "1", "2"),
    ]
    first = found[0]
    # Texts in the programme's default language (Kiswahili here).
    assert (first["question_text"], first["value_label"]) == ("Mkutano ulisaidia?", "Sana")
    assert (first["survey_key"], first["survey_version"], first["question_kind"]) == (
        "cop-check",
        "1",
        "single_choice",
    )
    assert (first["response_status"], first["channel"]) == ("completed", "ussd")
    assert first["meeting_code"] == world.past.code
    assert found[3]["value_label"] == "Kiasi" and found[3]["response_status"] == "in_progress"
    assert found[1]["value_label"] == ""

    with_pii = rows(await export(session, world.a.programme, ExportKind.responses, pii=True))
    assert with_pii[2]["value"] == OWN_WORDS


async def test_messages_are_one_row_per_sms_and_bodies_need_pii(
    session: AsyncSession, world: Exportable
) -> None:
    text = await export(session, world.a.programme, ExportKind.messages)
    assert header(text) == exports.MESSAGE_COLUMNS
    found = rows(text)
    assert [r["direction"] for r in found] == ["outbound", "inbound"]
    out, inbound = found
    assert (out["kind"], out["template"], out["status"]) == ("reminder", "reminder", "delivered")
    assert (out["cost"], out["currency"], out["segments"], out["attempts"]) == (
        "0.8000",
        "KES",
        "1",
        "1",
    )
    assert (out["meeting_code"], out["community_code"]) == (world.a.meeting.code, "CLUSTER-1")
    assert out["delivered_at"].endswith("+03:00") and inbound["delivered_at"] == ""
    assert out["body"] == inbound["body"] == ""
    assert INBOUND_SMS not in text

    with_pii = rows(await export(session, world.a.programme, ExportKind.messages, pii=True))
    assert [r["body"] for r in with_pii] == [
        REMINDER,
        INBOUND_SMS,
    ]


# --- rules every export keeps --------------------------------------------------------


@pytest.mark.parametrize("kind", list(ExportKind))
async def test_no_phone_number_leaves_without_pii(
    session: AsyncSession, world: Exportable, kind: ExportKind
) -> None:
    text = await export(session, world.a.programme, kind)
    assert WHOLE_PHONE.search(text) is None
    assert "•" in text  # masked, still recognisable


@pytest.mark.parametrize("kind", list(ExportKind))
async def test_phones_are_whole_with_pii(
    session: AsyncSession, world: Exportable, kind: ExportKind
) -> None:
    text = await export(session, world.a.programme, kind, pii=True)
    assert set(world.phones) & set(WHOLE_PHONE.findall(text)) and "•" not in text


@pytest.mark.parametrize(
    ("kind", "term", "count"),
    [
        (ExportKind.attendance, None, 6),
        (ExportKind.attendance, "Term 1", 3),
        (ExportKind.attendance, "Term 2", 3),
        (ExportKind.responses, None, 4),
        (ExportKind.responses, "Term 1", 3),
        (ExportKind.responses, "Term 2", 1),
        (ExportKind.messages, None, 2),
        (ExportKind.messages, "Term 1", 1),
        (ExportKind.messages, "Term 2", 1),
    ],
)
async def test_a_term_keeps_only_its_own_records(
    session: AsyncSession, world: Exportable, kind: ExportKind, term: str | None, count: int
) -> None:
    assert len(rows(await export(session, world.a.programme, kind, term=term))) == count


async def test_an_unknown_term_is_refused_before_any_row(
    session: AsyncSession, world: Exportable
) -> None:
    with pytest.raises(NotFound, match=r"no term named 'Term 9'.*'Term 1', 'Term 2'"):
        await exports.prepare(session, world.a.programme, term="Term 9")


@pytest.mark.parametrize("kind", list(ExportKind))
async def test_another_programmes_rows_never_appear(
    session: AsyncSession, world: Exportable, kind: ExportKind
) -> None:
    a_text = await export(session, world.a.programme, kind, pii=True)
    b_text = await export(session, world.b.programme, kind, pii=True)
    assert "+250" not in a_text and "Rwanda" not in a_text
    assert "+254" not in b_text
    b_people = {str(p.id) for p in [world.b.facilitator, *world.b.members]}
    if kind is not ExportKind.messages:
        assert {r["person_id"] for r in rows(b_text)} <= b_people
    assert len(rows(b_text)) == {"attendance": 3, "responses": 3, "messages": 1}[kind]


@pytest.mark.parametrize("kind", list(ExportKind))
async def test_rows_come_out_the_same_a_page_at_a_time(
    session: AsyncSession, world: Exportable, kind: ExportKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = await export(session, world.a.programme, kind, pii=True)
    monkeypatch.setattr(exports, "PAGE", 2)
    assert await export(session, world.a.programme, kind, pii=True) == whole


def test_text_people_typed_never_becomes_a_spreadsheet_formula() -> None:
    assert exports.cell('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert exports.cell("+254 call me") == "'+254 call me"
    assert exports.cell("Sick child") == "Sick child"


# --- the download for partner apps ---------------------------------------------------


@pytest_asyncio.fixture
async def client(settings: Settings, sessions: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    app, client = make_api(settings)
    async with client:
        yield client
    await app.state.services.engine.dispose()


async def get(client: httpx.AsyncClient, path: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.get(path, headers=headers)


async def test_a_reader_downloads_a_csv_without_phones(
    session: AsyncSession, world: Exportable, client: httpx.AsyncClient
) -> None:
    key = await issue_key(session, world.a.programme, Scope.read)
    response = await get(client, "/exports/attendance.csv", key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="ke-clusters-attendance.csv"'
    )
    assert header(response.text) == exports.ATTENDANCE_COLUMNS
    assert len(rows(response.text)) == 6
    assert WHOLE_PHONE.search(response.text) is None


async def test_read_pii_gives_whole_phones_and_texts(
    session: AsyncSession, world: Exportable, client: httpx.AsyncClient
) -> None:
    key = await issue_key(session, world.a.programme, Scope.read, Scope.read_pii)
    response = await get(client, "/exports/messages.csv?term=Term 1", key)
    assert response.status_code == 200, response.text
    assert 'filename="ke-clusters-messages-Term-1.csv"' in response.headers["content-disposition"]
    [inbound] = rows(response.text)
    assert (inbound["phone"], inbound["body"]) == (world.a.members[1].phone, INBOUND_SMS)


async def test_a_key_sees_only_its_own_programme(
    session: AsyncSession, world: Exportable, client: httpx.AsyncClient
) -> None:
    key = await issue_key(session, world.b.programme, Scope.read, Scope.read_pii)
    response = await get(client, "/exports/responses.csv", key)
    assert response.status_code == 200
    assert {r["value"] for r in rows(response.text)} == {"1", "no", "Rwanda"}
    assert "+254" not in response.text


async def test_the_download_refuses_what_it_should(
    session: AsyncSession, world: Exportable, client: httpx.AsyncClient
) -> None:
    reader = await issue_key(session, world.a.programme, Scope.read)
    writer = await issue_key(session, world.a.programme, Scope.write)
    missing = await get(client, "/exports/attendance.csv", None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert (await get(client, "/exports/attendance.csv", "cpl_nope_nope")).status_code == 401
    no_read = await get(client, "/exports/attendance.csv", writer)
    assert no_read.status_code == 403 and "'read'" in no_read.text
    unknown = await get(client, "/exports/people.csv", reader)
    assert unknown.status_code == 404 and "attendance.csv" in unknown.text
    no_term = await get(client, "/exports/attendance.csv?term=Term 9", reader)
    assert no_term.status_code == 404 and "no term named 'Term 9'" in no_term.text
