"""Erasing a person: nothing left names them or holds their number, in any table or export;
the programme's figures and other people's data stay as they were; a legal hold refuses it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import exports
from service.domain.actor import Actor
from service.domain.attendance import record_rsvp
from service.domain.consent import record_consent
from service.domain.erasure import (
    ERASED_NAME,
    NO_PERSON_TEXT,
    _scope,
    erase_person,
    set_legal_hold,
    text_columns,
)
from service.domain.errors import LegalHold, PersonErased, ValidationError
from service.domain.people import PersonInput, update_person
from service.domain.reminders import remind_now
from service.domain.reports import ReportFilter, attendance, resolve, survey_results
from service.domain.surveys import latest, open_response, record_answer
from service.models import (
    Answer,
    Attendance,
    AuditEntry,
    ConsoleSession,
    Message,
    Person,
    RosterUpload,
    SignInCode,
    UssdAction,
    UssdSession,
)
from service.models.enums import (
    Channel,
    ConsentState,
    Direction,
    MessageStatus,
    Role,
    Rsvp,
    UssdOutcome,
)
from service.roster import ImportKind
from sms.inbound import store_inbound
from tests import factories as f
from tests.service.roster.test_importer import run_import, write
from tests.surveys import held_meeting

NAME = "Grace Nyirahabimana"
EARLIER_NAME = "Grace Nyira"
PHONE = "+254712999001"
# Every way the name and the number may be written.
NEEDLES = (NAME, EARLIER_NAME, PHONE, PHONE.removeprefix("+"), "0712999001")
ADMIN = Actor.api_key(1)


@dataclass
class Scene:
    w: f.World
    grace: Person
    others: list[Person]


async def _answer(session: AsyncSession, w: f.World, person: Person, text: str) -> None:
    survey = await latest(session, w.pid, "reflection")
    assert survey is not None and survey.id is not None and person.id is not None
    response = await open_response(session, survey.id, person.id, Channel.sms, f.now())
    for position, raw in enumerate(["1", "4", "yes", "yes", text], start=1):
        await record_answer(session, response, position, raw, channel=Channel.sms, now=f.now())


async def scene(session: AsyncSession) -> Scene:
    """Grace, a teacher who did everything a teacher does, among colleagues who mention her."""
    w = await f.world(session)
    grace = await f.person(session, w.programme, name=EARLIER_NAME, phone="0712999001",
                           school_id=w.school.id)  # fmt: skip
    assert grace.id is not None and w.community.id is not None and w.meeting.id is not None
    # Renamed once: the audit trail keeps the earlier name, which must go too.
    await update_person(w.programme, grace.id, PersonInput(name=NAME, phone=PHONE,
                        school_id=w.school.id), session=session, actor=f.OPERATOR)  # fmt: skip
    from service.domain.communities import add_member

    await add_member(w.pid, w.community.id, grace.id, session=session, actor=f.OPERATOR)
    await record_consent(grace, ConsentState.given, channel=Channel.ussd, session=session,
                         actor=Actor.person(grace.id, Channel.ussd))  # fmt: skip
    # Attendance: a meeting held (she and a colleague came), an RSVP with her reason.
    await held_meeting(session, w, [grace, w.members[0]])
    await record_rsvp(w.pid, w.meeting.id, grace.id, Rsvp.no, "my mother Grace Nyirahabimana sr",
                      session=session, actor=Actor.person(grace.id, Channel.sms))  # fmt: skip
    # Surveys: her answers (free text naming herself) and a colleague's naming her.
    await _answer(session, w, grace, "I am Grace, call me on 0712999001")
    await _answer(session, w, w.members[0], f"{NAME} showed us fractions")
    # SMS both ways, a reminder to her, and a message to the coach that names her.
    await remind_now(w.programme, w.meeting.id, session=session, actor=f.OPERATOR)
    mine = (await session.exec(select(Message).where(Message.person_id == grace.id))).all()
    for message in mine:
        message.body, message.status = f"Dear {NAME}, meeting tomorrow", MessageStatus.delivered
        message.cost, message.currency = Decimal("0.8"), "KES"
    await store_inbound(session, grace, phone=PHONE, text=f"{NAME} here, my number 254712999001",
                        provider_id="ATXid_1", received_at=f.now(), now=f.now())  # fmt: skip
    session.add(
        Message(
            programme_id=w.pid, person_id=w.facilitator.id, direction=Direction.outbound,
            kind="forward", phone=w.facilitator.phone or "", body=f"From {NAME} ({PHONE}): help",
            params={"from": NAME, "phone": PHONE, "text": "help"},
            status=MessageStatus.delivered, cost=Decimal("0.8"), currency="KES",
        )
    )  # fmt: skip
    # USSD: a dial as her, and one before she was known (by phone alone).
    for ref, person_id in (("ATUid_1", grace.id), ("ATUid_2", None)):
        session.add(UssdSession(session_id=ref, programme_id=w.pid, person_id=person_id,
                                phone=PHONE, service_code=w.programme.service_code, hops=3,
                                path="home>meetings", outcome=UssdOutcome.completed))  # fmt: skip
    # What a dial claimed: her short free-text answer, and the coach adding her by number.
    session.add(UssdSession(session_id="ATUid_3", programme_id=w.pid, person_id=w.facilitator.id,
                            phone=w.facilitator.phone or "", service_code=w.programme.service_code,
                            outcome=UssdOutcome.completed))  # fmt: skip
    session.add(UssdAction(session_id="ATUid_1", key="4:survey:1:5:1:call me on 0712999001"))
    session.add(UssdAction(session_id="ATUid_3", key=f"2:add:{w.community.id}:{PHONE}"))
    # The console: her session, a code sent to her number, a roster file naming her.
    grace.console_role = None
    console = ConsoleSession(token_hash="t" * 64, person_id=grace.id, csrf_token="c" * 64,
                             notice=f"{NAME}'s RSVP saved")  # fmt: skip
    session.add(console)
    session.add(SignInCode(phone=PHONE, code_hash="h" * 64,
                           expires_at=f.now() + timedelta(minutes=10)))  # fmt: skip
    await session.flush()
    assert console.id is not None
    session.add(
        RosterUpload(token="u" * 40, programme_id=w.pid, person_id=w.facilitator.id or 0,
                     console_session_id=console.id, names={"people": "people.csv"},
                     people_csv=f"name,phone\n{NAME},{PHONE}\nOther Teacher,0712999002\n")
    )  # fmt: skip
    await session.commit()
    return Scene(w, grace, [w.facilitator, *w.members, w.outsider])


async def _every_text(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(table, column, text) for every text and JSON value in the database."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        columns = text_columns(table)
        if not columns:
            continue
        for row in (await session.execute(sa.select(*columns))).all():
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    text = (
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    )
                    found.append((table.name, column.name, text))
    return found


def _naming(texts: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [t for t in texts if any(n.lower() in t[2].lower() for n in NEEDLES)]


async def _exported(session: AsyncSession, s: Scene) -> str:
    spec = await exports.prepare(session, s.w.programme, pii=True)
    lines = []
    for export in (exports.attendance, exports.responses, exports.messages):
        lines += [",".join(r) async for r in export(session, spec)]
    return "\n".join(lines)


async def test_after_erasure_no_table_and_no_export_holds_the_name_or_number(
    session: AsyncSession,
) -> None:
    s = await scene(session)
    before = _naming(await _every_text(session))
    assert {t for t, _, _ in before} >= {
        "person", "message", "answer", "attendance", "audit_entry", "ussd_session",
        "console_session", "sign_in_code", "roster_upload", "ussd_action",
    }  # fmt: skip
    exported = await _exported(session, s)
    assert any(n in exported for n in NEEDLES)

    await erase_person(s.w.programme, s.grace.id or 0, session=session, actor=ADMIN, now=f.now())
    await session.commit()
    session.expunge_all()

    assert _naming(await _every_text(session)) == []
    exported = (await _exported(session, s)).lower()
    assert [n for n in NEEDLES if n.lower() in exported] == []


async def test_the_programmes_attendance_and_survey_totals_are_unchanged(
    session: AsyncSession,
) -> None:
    s = await scene(session)

    async def totals() -> tuple[Any, Any, list[tuple[Any, ...]]]:
        scope = await resolve(session, s.w.programme, ReportFilter(), now=f.now())
        results = await survey_results(session, scope, "reflection", language="en",
                                       with_texts=False)  # fmt: skip
        cost = (
            await session.execute(
                sa.select(col(Message.status), sa.func.count(), sa.func.sum(col(Message.cost)))
                .where(col(Message.programme_id) == s.w.pid)
                .group_by(col(Message.status))
                .order_by(col(Message.status))
            )
        ).all()
        return await attendance(session, scope), results, [tuple(r) for r in cost]

    before = await totals()
    await erase_person(s.w.programme, s.grace.id or 0, session=session, actor=ADMIN, now=f.now())
    await session.commit()
    session.expunge_all()
    after = await totals()

    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]


async def test_other_peoples_rows_are_unchanged_but_where_they_named_her(
    session: AsyncSession,
) -> None:
    s = await scene(session)
    ids = [p.id for p in s.others]

    async def theirs() -> tuple[list[Any], list[Any], list[Any]]:
        people = (await session.exec(select(Person).where(col(Person.id).in_(ids)))).all()
        marks = await session.exec(select(Attendance).where(col(Attendance.person_id).in_(ids)))
        messages = (
            await session.exec(
                select(Message).where(col(Message.person_id).in_(ids), Message.kind != "forward")
            )
        ).all()
        return ([p.model_dump() for p in people], [a.model_dump() for a in marks.all()],
                [m.model_dump() for m in messages])  # fmt: skip

    before = await theirs()
    await erase_person(s.w.programme, s.grace.id or 0, session=session, actor=ADMIN, now=f.now())
    await session.commit()
    session.expunge_all()

    assert await theirs() == before
    [forward] = (await session.exec(select(Message).where(Message.kind == "forward"))).all()
    assert forward.body == "From [erased] ([erased]): help"
    assert forward.params == {"from": "[erased]", "phone": "[erased]", "text": "help"}
    assert forward.status is MessageStatus.delivered and forward.cost == Decimal("0.8")
    texts = (await session.exec(select(Answer.value))).all()
    assert "[erased] showed us fractions" in texts


async def test_her_rows_stay_for_the_counts_without_what_identifies_her(
    session: AsyncSession,
) -> None:
    s = await scene(session)
    gid = s.grace.id
    await erase_person(s.w.programme, gid or 0, session=session, actor=ADMIN, now=f.now())
    await session.commit()
    session.expunge_all()

    person = await session.get(Person, gid)
    assert person is not None
    assert (person.name, person.phone, person.erased_at is not None) == (ERASED_NAME, None, True)
    assert person.opted_out_at is not None  # nothing is sent to her any more
    mine = (await session.exec(select(Message).where(Message.person_id == gid))).all()
    assert mine and all(m.body is None and m.phone == "erased" for m in mine)
    assert {m.status for m in mine if m.direction is Direction.outbound} == {
        MessageStatus.delivered
    }
    dials = (await session.exec(select(UssdSession).where(UssdSession.hops == 3))).all()
    assert [(d.phone, d.hops, d.path) for d in dials] == [("erased", 3, "home>meetings")] * 2
    actions = (await session.exec(select(UssdAction.session_id, UssdAction.key))).all()
    assert actions == [("ATUid_3", f"2:add:{s.w.community.id}:[erased]")]  # hers went
    [console] = (await session.exec(select(ConsoleSession))).all()
    assert console.revoked_at is not None and console.notice is None
    assert (await session.exec(select(SignInCode))).all() == []
    consent = await session.exec(select(Person.consent).where(Person.id == gid))
    assert consent.one() is ConsentState.given  # her consent history stays, naming nobody


async def test_the_erasure_is_audited_with_counts_and_no_identifier(
    session: AsyncSession,
) -> None:
    s = await scene(session)
    done = await erase_person(s.w.programme, s.grace.id or 0, session=session, actor=ADMIN,
                              now=f.now())  # fmt: skip
    await session.commit()

    [entry] = await session.exec(select(AuditEntry).where(AuditEntry.action == "person.erase"))
    assert (entry.actor, entry.object_type, entry.object_id) == ("apikey:1", "person", s.grace.id)
    assert entry.changes == done.as_changes()
    assert done.messages >= 2 and done.free_text_answers == 1 and done.ussd_sessions == 2
    assert done.texts_scrubbed > 0


async def test_erasure_is_refused_while_a_legal_hold_is_set(session: AsyncSession) -> None:
    s = await scene(session)
    gid = s.grace.id or 0
    person, changed = await set_legal_hold(s.w.programme, gid, True, session=session,
                                           actor=ADMIN, now=f.now())  # fmt: skip
    assert changed and person.legal_hold_at is not None
    await session.commit()

    with pytest.raises(LegalHold, match="legal hold"):
        await erase_person(s.w.programme, gid, session=session, actor=ADMIN, now=f.now())
    await session.rollback()
    await session.refresh(s.w.programme)
    held = await session.get(Person, gid, populate_existing=True)
    assert held is not None and held.name == NAME

    await set_legal_hold(s.w.programme, gid, False, session=session, actor=ADMIN, now=f.now())
    await erase_person(s.w.programme, gid, session=session, actor=ADMIN, now=f.now())
    await session.commit()
    holds = (
        await session.exec(
            select(AuditEntry.changes).where(AuditEntry.action == "person.legal_hold")
        )
    ).all()
    assert holds == [{"hold": True}, {"hold": False}]
    with pytest.raises(PersonErased):
        await erase_person(s.w.programme, gid, session=session, actor=ADMIN, now=f.now())


async def test_a_later_import_with_her_number_makes_someone_new(
    session: AsyncSession, tmp_path: Path
) -> None:
    s = await scene(session)
    await erase_person(s.w.programme, s.grace.id or 0, session=session, actor=ADMIN, now=f.now())
    await session.commit()

    path = write(tmp_path, "people.csv", f"name,phone,school\nNew Teacher,{PHONE},SCH-1\n")
    report = await run_import(session, s.w.programme, ImportKind.people, path)
    assert report.applied, report.errors
    session.expunge_all()
    holders = (await session.exec(select(Person).where(Person.phone == PHONE))).all()
    assert [(p.name, p.id == s.grace.id) for p in holders] == [("New Teacher", False)]


async def test_the_same_number_in_another_programme_is_left_alone(session: AsyncSession) -> None:
    s = await scene(session)
    other = await f.programme(session, slug="ke-other")
    namesake = await f.person(session, other, name=NAME, phone=PHONE, roles=[Role.teacher])
    await session.commit()

    await erase_person(s.w.programme, s.grace.id or 0, session=session, actor=ADMIN, now=f.now())
    await session.commit()
    session.expunge_all()

    kept = await session.get(Person, namesake.id)
    assert kept is not None and (kept.name, kept.phone) == (NAME, PHONE)
    [created] = (
        await session.exec(
            select(AuditEntry).where(
                AuditEntry.programme_id == other.id, AuditEntry.object_id == namesake.id
            )
        )
    ).all()
    assert created.changes["name"] == NAME
    # The code sent to the number may be the namesake's: it stays.
    assert len((await session.exec(select(SignInCode))).all()) == 1


def test_every_table_is_placed_for_erasure() -> None:
    """A new table holding text must say how erasure reaches it (or that it holds no
    person's text): else erasing would miss what it keeps."""
    for table in SQLModel.metadata.sorted_tables:
        if table.name in NO_PERSON_TEXT or not text_columns(table):
            continue
        assert _scope(table, 1) is not None, table.name


async def test_nothing_more_is_recorded_about_an_erased_person(session: AsyncSession) -> None:
    s = await scene(session)
    gid = s.grace.id or 0
    await erase_person(s.w.programme, gid, session=session, actor=ADMIN, now=f.now())
    await session.commit()

    with pytest.raises(PersonErased):
        await update_person(s.w.programme, gid, PersonInput(name=NAME, phone=PHONE),
                            session=session, actor=f.OPERATOR)  # fmt: skip
    person = await session.get(Person, gid)
    assert person is not None
    with pytest.raises(ValidationError, match="erased"):
        await record_consent(person, ConsentState.given, channel=Channel.api, session=session,
                             actor=ADMIN)  # fmt: skip


async def test_an_earlier_number_now_someone_elses_stays_theirs(session: AsyncSession) -> None:
    s = await scene(session)
    gid = s.grace.id or 0
    earlier = "+254712999050"
    # Grace had another number first; it went to a colleague, who was texted on it.
    grace = await session.get(Person, gid)
    assert grace is not None
    await update_person(s.w.programme, gid, PersonInput(name=NAME, phone=earlier,
                        school_id=s.w.school.id), session=session, actor=f.OPERATOR)  # fmt: skip
    await update_person(s.w.programme, gid, PersonInput(name=NAME, phone=PHONE,
                        school_id=s.w.school.id), session=session, actor=f.OPERATOR)  # fmt: skip
    colleague = await f.person(session, s.w.programme, name="Colleague Now", phone=earlier)
    session.add(Message(programme_id=s.w.pid, person_id=colleague.id, kind="reply",
                        direction=Direction.outbound, phone=earlier, body=f"Hello {earlier}",
                        status=MessageStatus.delivered))  # fmt: skip
    await session.commit()

    await erase_person(s.w.programme, gid, session=session, actor=ADMIN, now=f.now())
    await session.commit()
    session.expunge_all()

    theirs = (await session.exec(select(Message).where(Message.person_id == colleague.id))).all()
    assert [(m.phone, m.body) for m in theirs] == [(earlier, f"Hello {earlier}")]
    kept = await session.get(Person, colleague.id)
    assert kept is not None and kept.phone == earlier
