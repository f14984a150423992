"""The sender drains the outbox: bulk by identical body, per-recipient outcomes, retries
with backoff, give-up reasons, STOP honoured before sending, leases that run out.

The gateway here is a scripted stand-in behind `sms.gateway.Gateway`; the real SDK
over HTTP to the simulator is covered in tests/sms/test_end_to_end.py.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain import reminders
from service.domain.communities import add_member, remove_member
from service.domain.people import opt_out
from service.models import Message
from service.models.enums import Channel, Encoding, Language, MessageStatus
from sms.gateway import GatewayError, RecipientOutcome, RecipientResult
from sms.sender import Sender, SendPolicy
from sms.texts import SmsTexts
from tests import factories as f

TEXTS = SmsTexts.load()


@dataclass
class Script:
    """A gateway that answers as told: per number an outcome, or a whole-request error."""

    outcomes: dict[str, tuple[RecipientOutcome, int, str]] = field(default_factory=dict)
    errors: list[GatewayError] = field(default_factory=list)
    requests: list[tuple[str, list[str], str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(
        self, message: str, recipients: Sequence[str], sender_id: str | None = None
    ) -> list[RecipientResult]:
        with self.lock:
            self.requests.append((message, list(recipients), sender_id))
            if self.errors:
                raise self.errors.pop(0)
        results = []
        for number in recipients:
            outcome, code, status = self.outcomes.get(
                number, (RecipientOutcome.accepted, 101, "Success")
            )
            accepted = outcome is RecipientOutcome.accepted
            results.append(
                RecipientResult(
                    number=number,
                    status=status,
                    status_code=code,
                    message_id=f"ATXid_{number[-6:]}_{len(self.requests)}" if accepted else None,
                    cost=Decimal("0.8000") if accepted else None,
                    currency="KES" if accepted else None,
                    outcome=outcome,
                )
            )
        return results

    def sent_to(self) -> list[str]:
        return [n for _, numbers, _ in self.requests for n in numbers]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def queued_world(session: AsyncSession, members: int = 2) -> tuple[f.World, Clock]:
    """A world whose meeting's 48 h reminders are queued and due now."""
    w = await f.world(session)
    for _ in range(members - 2):
        p = await f.person(session, w.programme)
        assert p.id is not None and w.community.id is not None
        await add_member(w.pid, w.community.id, p.id, session=session, actor=f.OPERATOR)
    # Quiet hours would defer the rows by the wall clock; they have tests of their own.
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0)
    clock = Clock(w.meeting.starts_at - timedelta(hours=47))
    await reminders.queue_due_reminders(session, clock.now)
    await session.commit()
    return w, clock


async def rows(sessions: SessionFactory) -> list[Message]:
    async with sessions() as s:
        return list(
            (await s.exec(select(Message).order_by(col(Message.person_id), col(Message.id)))).all()
        )


def sender(sessions: SessionFactory, gateway: Script, clock: Clock, **policy: object) -> Sender:
    return Sender(
        sessions,
        gateway,
        TEXTS,
        policy=SendPolicy(**policy),  # type: ignore[arg-type]
        clock=clock,
        rng=random.Random(7),
    )


async def test_identical_bodies_go_in_one_request_and_each_row_records_its_answer(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session, members=5)
    gateway = Script()
    report = await sender(sessions, gateway, clock).send_due()

    assert report.sent == 6 and len(gateway.requests) == 1
    body, numbers, sender_id = gateway.requests[0]
    assert sender_id == "COPLINE"
    assert w.community.name in body and w.meeting.code in body
    assert sorted(numbers) == sorted(p.phone for p in await _people(session, w))
    for row in await rows(sessions):
        assert row.status is MessageStatus.sent
        assert row.provider_id is not None and row.provider_id.startswith("ATXid_")
        assert (row.cost, row.currency) == (Decimal("0.8000"), "KES")
        assert row.encoding is Encoding.gsm7 and row.segments == 1
        assert row.body == body and row.attempts == 1 and row.sent_at == clock.now


async def _people(session: AsyncSession, w: f.World) -> list:  # type: ignore[type-arg]
    from service.models import Membership, Person

    result = await session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(col(Membership.community_id) == w.community.id)
    )
    return list(result.all())


async def test_each_person_reads_the_reminder_in_their_own_language(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0)
    w.members[0].language = Language.en
    w.members[1].language = Language.fr
    clock = Clock(w.meeting.starts_at - timedelta(hours=47))
    await reminders.queue_due_reminders(session, clock.now)
    await session.commit()
    gateway = Script()
    await sender(sessions, gateway, clock).send_due()
    bodies = {row.language: row.body or "" for row in await rows(sessions)}
    assert set(bodies) == {Language.sw, Language.en, Language.fr}
    assert f"NDIYO {w.meeting.code}" in bodies[Language.sw]
    assert f"YES {w.meeting.code}" in bodies[Language.en]
    assert f"OUI {w.meeting.code}" in bodies[Language.fr]
    assert len(gateway.requests) == 3  # one body per language


async def test_a_first_message_says_how_to_stop_and_later_ones_do_not(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    gateway = Script()
    await sender(sessions, gateway, clock).send_due()
    row = (await rows(sessions))[0]
    assert row.template is not None and row.params is not None
    zone = w.programme.timezone
    with_footer = TEXTS.render(row.template, Language.sw, row.params, timezone=zone, footer=True)
    assert gateway.requests[0][0] == with_footer
    assert with_footer.endswith("Jibu ACHA kusitisha.")

    clock.now = w.meeting.starts_at - timedelta(hours=2)
    await reminders.queue_due_reminders(session, clock.now)
    await session.commit()
    await sender(sessions, gateway, clock).send_due()
    assert gateway.requests[-1][0] == TEXTS.render(
        row.template, Language.sw, row.params, timezone=zone
    )


async def test_rejected_recipients_fail_with_the_reason_while_the_rest_are_sent(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    bad = w.members[0].phone
    assert bad is not None
    gateway = Script(outcomes={bad: (RecipientOutcome.permanent, 403, "InvalidPhoneNumber")})
    report = await sender(sessions, gateway, clock).send_due()
    assert (report.sent, report.failed) == (2, 1)
    by_phone = {row.phone: row for row in await rows(sessions)}
    assert by_phone[bad].status is MessageStatus.failed
    assert by_phone[bad].last_error == "InvalidPhoneNumber (403)"
    assert {r.status for p, r in by_phone.items() if p != bad} == {MessageStatus.sent}


async def test_transient_failures_come_back_after_a_growing_backoff_then_give_up(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    _, clock = await queued_world(session)
    gateway = Script(errors=[GatewayError("HTTP 500", transient=True) for _ in range(3)])
    s = sender(sessions, gateway, clock, max_attempts=3, backoff_base=timedelta(seconds=30))

    await s.send_due()
    first = await rows(sessions)
    assert {r.status for r in first} == {MessageStatus.queued}
    waits = [(r.send_after - clock.now).total_seconds() for r in first if r.send_after]
    assert all(15 <= wait <= 30 for wait in waits)  # half to all of 30 s
    assert (await s.send_due()).claimed == 0  # not before the backoff is over

    clock.now += timedelta(seconds=31)
    await s.send_due()
    second = await rows(sessions)
    waits = [(r.send_after - clock.now).total_seconds() for r in second if r.send_after]
    assert all(30 <= wait <= 60 for wait in waits)  # doubled

    clock.now += timedelta(seconds=61)
    await s.send_due()
    final = await rows(sessions)
    assert {r.status for r in final} == {MessageStatus.failed}
    assert {r.last_error for r in final} == {"gave up after 3 attempts: HTTP 500"}
    assert {r.attempts for r in final} == {3}
    assert len(gateway.requests) == 3


async def test_a_permanent_request_failure_is_not_retried(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    _, clock = await queued_world(session)
    gateway = Script(errors=[GatewayError("HTTP 401: invalid API key", transient=False)])
    await sender(sessions, gateway, clock).send_due()
    assert {(r.status, r.last_error) for r in await rows(sessions)} == {
        (MessageStatus.failed, "HTTP 401: invalid API key")
    }


async def test_nobody_who_said_stop_or_left_is_sent_what_was_queued_before(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    stopped, leaving = w.members
    assert leaving.id is not None and w.community.id is not None
    opt_out(stopped, channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    # leaving after queueing: the domain drops the row; STOP is caught by the sender
    await remove_member(w.pid, w.community.id, leaving.id, session=session, actor=f.OPERATOR)
    await session.commit()
    gateway = Script()
    report = await sender(sessions, gateway, clock).send_due()
    assert gateway.sent_to() == [w.facilitator.phone]
    assert report.dropped == 1
    by_person = {r.person_id: r for r in await rows(sessions)}
    assert (by_person[stopped.id].status, by_person[stopped.id].last_error) == (
        MessageStatus.dropped,
        "opted out",
    )
    assert by_person[leaving.id].status is MessageStatus.dropped


async def test_a_reminder_for_a_cancelled_meeting_is_dropped_at_send_time(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    # the meeting is cancelled behind the domain's back (e.g. an old row): the sender checks
    w.meeting.status = w.meeting.status.cancelled
    await session.commit()
    gateway = Script()
    await sender(sessions, gateway, clock).send_due()
    assert gateway.requests == []
    assert {r.last_error for r in await rows(sessions)} == {"meeting cancelled"}


async def test_rows_left_sending_by_a_dead_worker_become_unknown_and_are_not_resent(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    _, clock = await queued_world(session)
    dying = sender(sessions, Script(), clock, lease=timedelta(minutes=5))
    claimed = await dying.claim()  # the worker claims, then dies before sending
    assert len(claimed) == 3
    assert {r.status for r in await rows(sessions)} == {MessageStatus.sending}

    gateway = Script()
    other = sender(sessions, gateway, clock, lease=timedelta(minutes=5))
    assert (await other.send_due()).claimed == 0  # the lease still holds
    clock.now += timedelta(minutes=6)
    report = await other.send_due()
    assert report.expired == 3 and gateway.requests == []
    assert {r.status for r in await rows(sessions)} == {MessageStatus.unknown}


async def test_one_number_twice_goes_in_two_requests(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    assert w.meeting.id is not None
    from service.domain.reminders import remind_now

    # remind-now and the policy round share a body: one phone, two rows, two requests
    await remind_now(w.programme, w.meeting.id, session=session, actor=f.OPERATOR, now=clock.now)
    await session.commit()
    gateway = Script()
    await sender(sessions, gateway, clock).send_due()
    for _, numbers, _ in gateway.requests:
        assert len(numbers) == len(set(numbers))
    assert sorted(gateway.sent_to()) == sorted(r.phone for r in await rows(sessions))


@pytest.mark.parametrize("batch", [1, 2])
async def test_small_batches_drain_the_whole_outbox(
    session: AsyncSession, sessions: SessionFactory, batch: int
) -> None:
    _, clock = await queued_world(session)
    gateway = Script()
    report = await sender(sessions, gateway, clock, batch=batch).send_until_idle()
    assert report.sent == 3
    assert {r.status for r in await rows(sessions)} == {MessageStatus.sent}
