"""The sender drains the outbox: bulk by identical body, per-recipient outcomes, retries
with backoff, give-up reasons, STOP honoured before sending, leases that run out.

The gateway here is a scripted stand-in behind `sms.gateway.Gateway`; the real SDK
over HTTP to the simulator is covered in tests/sms/test_end_to_end.py.
"""

from __future__ import annotations

import json
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain import outbox, reminders, webhooks
from service.domain.communities import remove_member
from service.domain.people import opt_out
from service.models import Message, Person, WebhookDelivery
from service.models.enums import Channel, Country, Direction, Encoding, Language, MessageStatus
from sms import claims
from sms.gateway import GatewayError, RecipientOutcome
from tests import factories as f
from tests.sms.outbox import TEXTS, Clock, Script, queued_world, rows, sender


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


async def test_a_chichewa_name_reaches_the_phone_in_gsm7_and_a_persons_own_words_as_written(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session, slug="mw-cops", country=Country.MW, timezone="Africa/Blantyre")
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0)
    w.community.name = "Aphunzitsi a Chiŵembe"
    teacher = w.members[0]
    assert teacher.id is not None and teacher.phone is not None
    assert teacher.language is Language.ny  # a Malawi programme speaks Chichewa
    clock = Clock(w.meeting.starts_at - timedelta(hours=47))
    await reminders.queue_due_reminders(session, clock.now)
    written = "Moni nonse: tikumane ndi a Ŵiŵa."
    await outbox.queue(
        session, w.programme, [outbox.Recipient(teacher.id, teacher.phone, teacher.language)],
        kind="broadcast", template=None, params=None, body=written, due=clock.now,
        now=clock.now,
    )  # fmt: skip
    await session.commit()
    gateway = Script()
    for _ in range(2):  # one message to a phone at a time: the reminder, then the broadcast
        await sender(sessions, gateway, clock).send_due()

    mine = {r.kind: r for r in await rows(sessions) if r.person_id == teacher.id}
    reminder = mine["reminder"]
    assert reminder.body is not None and reminder.language is Language.ny
    assert reminder.body.startswith("Aphunzitsi a Chiwembe: msonkhano ")
    assert f"Yankhani INDE {w.meeting.code}" in reminder.body
    assert (reminder.encoding, reminder.segments) == (Encoding.gsm7, 1)
    # A person's words are not rewritten: the "ŵ" stays, and the SMS is measured and
    # billed as the UCS-2 the console's preview showed the writer.
    broadcast = mine["broadcast"]
    assert broadcast.body == written and broadcast.status is MessageStatus.sent
    assert (broadcast.encoding, broadcast.segments) == (Encoding.ucs2, 1)


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
    await opt_out(stopped, channel=Channel.sms, session=session, actor=f.OPERATOR)
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


async def test_a_move_notice_for_a_meeting_cancelled_since_is_dropped_but_the_cancellation_goes(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    member = w.members[0]
    assert member.id is not None and member.phone is not None
    for template in ("moved", "cancelled"):
        session.add(
            Message(
                programme_id=w.pid,
                person_id=member.id,
                meeting_id=w.meeting.id,
                direction=Direction.outbound,
                kind="notice",
                phone=member.phone,
                template=template,
                params={**outbox.meeting_params(w.meeting, w.community), "reason": "",
                        "old_starts_at": w.meeting.starts_at.isoformat()},
                status=MessageStatus.queued,
                send_after=clock.now,
            )
        )  # fmt: skip
    # Cancelled behind the domain's back (a move notice written before the code that
    # supersedes it): the sender itself checks the meeting as it is now.
    w.meeting.status = w.meeting.status.cancelled
    await session.commit()
    gateway = Script()
    for _ in range(3):  # a phone's messages go one pass at a time
        await sender(sessions, gateway, clock).send_due()

    notices = {r.template: r for r in await rows(sessions) if r.kind == "notice"}
    assert (notices["moved"].status, notices["moved"].last_error) == (
        MessageStatus.dropped,
        "meeting cancelled since",
    )
    assert notices["cancelled"].status is MessageStatus.sent


async def test_rows_a_dead_worker_never_handed_over_are_sent_once_by_another(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    _, clock = await queued_world(session)
    lease = timedelta(minutes=1)
    claimed = await claims.claim(sessions, clock.now, batch=10, lease=lease)  # then it dies
    assert len(claimed) == 3
    assert {r.status for r in await rows(sessions)} == {MessageStatus.sending}

    gateway = Script()
    other = sender(sessions, gateway, clock, lease=lease)
    assert (await other.send_due()).claimed == 0  # the lease still holds
    clock.now += timedelta(minutes=2)
    report = await other.send_due()
    assert (report.requeued, report.expired) == (3, 0)
    assert report.sent == 3 and len(gateway.sent_to()) == 3
    assert {(r.status, r.attempts) for r in await rows(sessions)} == {(MessageStatus.sent, 1)}


async def test_rows_a_dead_worker_had_handed_to_the_gateway_become_unknown_and_are_not_resent(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    _, clock = await queued_world(session)
    lease = timedelta(minutes=1)
    claimed = await claims.claim(sessions, clock.now, batch=10, lease=lease)
    await claims.hand_off(sessions, claimed, claimed, clock.now, lease)  # then it dies

    gateway = Script()
    clock.now += timedelta(minutes=2)
    report = await sender(sessions, gateway, clock, lease=lease).send_due()
    assert (report.expired, report.requeued, report.claimed) == (3, 0, 0)
    assert gateway.requests == []
    for row in await rows(sessions):
        assert row.status is MessageStatus.unknown
        assert row.last_error == "the sender stopped after handing it to the gateway: not resent"


async def test_rows_whose_hand_over_committed_as_the_database_went_away_are_sent_later_once(
    session: AsyncSession, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, clock = await queued_world(session)
    real_hand_off = claims.hand_off

    async def committed_then_cut(*args: Any, **kwargs: Any) -> set[int]:
        await real_hand_off(*args, **kwargs)  # the commit reached the database…
        raise ConnectionResetError("…and the connection broke before its answer")

    monkeypatch.setattr(claims, "hand_off", committed_then_cut)
    gateway = Script()
    report = await sender(sessions, gateway, clock).send_due()
    assert (report.sent, report.released, gateway.requests) == (0, 3, [])
    # Not left to the lease, which would have made them `unknown` though they never left.
    assert {(r.status, r.handed_at) for r in await rows(sessions)} == {(MessageStatus.queued, None)}

    monkeypatch.setattr(claims, "hand_off", real_hand_off)
    assert (await sender(sessions, gateway, clock).send_due()).sent == 3
    assert len(gateway.sent_to()) == 3


async def test_a_stalled_worker_whose_lease_ran_out_cannot_send_what_another_took_over(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    _, clock = await queued_world(session)
    lease = timedelta(minutes=1)
    stalled = await claims.claim(sessions, clock.now, batch=10, lease=lease)
    clock.now += timedelta(minutes=2)
    gateway = Script()
    assert (await sender(sessions, gateway, clock, lease=lease).send_due()).sent == 3

    # The stalled worker wakes up and tries to go on with its batch: nothing is its own.
    assert await claims.hand_off(sessions, stalled, stalled, clock.now, lease) == set()
    assert len(gateway.sent_to()) == 3
    assert {r.status for r in await rows(sessions)} == {MessageStatus.sent}


async def test_a_phones_messages_go_out_in_the_order_they_were_written(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    assert w.meeting.id is not None
    from service.domain.broadcasts import BroadcastInput, broadcast

    # A notice after the policy round: two rows per phone, the round's first.
    assert w.community.id is not None
    notice = BroadcastInput(text="Bring your lesson plans")
    await broadcast(
        w.programme, w.community.id, notice, session=session, actor=f.OPERATOR, now=clock.now
    )
    await session.commit()
    gateway = Script()
    first = await sender(sessions, gateway, clock).send_due()
    assert first.sent == 3  # one per phone; each second one waits for its first
    second = await sender(sessions, gateway, clock).send_due()
    assert second.sent == 3
    by_phone: dict[str, list[int]] = {}
    for row in sorted(await rows(sessions), key=lambda r: r.sent_at or clock.now):
        by_phone.setdefault(row.phone, []).append(row.id or 0)
    assert all(ids == sorted(ids) for ids in by_phone.values())
    for _, numbers, _ in gateway.requests:
        assert len(numbers) == len(set(numbers))


async def test_a_number_that_blocks_our_sender_id_is_opted_out_and_its_queue_dropped(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    blocked = w.members[0]
    assert blocked.phone is not None and blocked.id is not None
    later = Message(
        programme_id=w.pid,
        person_id=blocked.id,
        direction=Direction.outbound,
        kind="broadcast",
        phone=blocked.phone,
        body="Next term's dates",
        status=MessageStatus.queued,
        send_after=clock.now + timedelta(days=1),
    )
    session.add(later)
    await session.commit()
    gateway = Script(outcomes={blocked.phone: (RecipientOutcome.permanent, 406, "UserInBlacklist")})
    await sender(sessions, gateway, clock).send_due()

    async with sessions() as s:
        person = await s.get(Person, blocked.id)
        assert person is not None
        assert person.opted_out_at is not None and person.opted_out_channel is Channel.sms
        mine = (await s.exec(select(Message).where(col(Message.person_id) == blocked.id))).all()
        assert {m.status for m in mine} == {MessageStatus.failed, MessageStatus.dropped}
        assert [m.last_error for m in mine if m.id == later.id] == [
            "the number blocks our sender id"
        ]
    others = [r for r in await rows(sessions) if r.person_id != blocked.id]
    assert {r.status for r in others} == {MessageStatus.sent}


@pytest.mark.parametrize("batch", [1, 2])
async def test_small_batches_drain_the_whole_outbox(
    session: AsyncSession, sessions: SessionFactory, batch: int
) -> None:
    _, clock = await queued_world(session)
    gateway = Script()
    report = await sender(sessions, gateway, clock, batch=batch).send_until_idle()
    assert report.sent == 3
    assert {r.status for r in await rows(sessions)} == {MessageStatus.sent}


async def test_a_message_the_gateway_refuses_for_good_is_a_message_failed_webhook(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w, clock = await queued_world(session)
    endpoint = await webhooks.create_endpoint(
        w.pid, "https://partner.example.org/hooks", ["message.failed"],
        session=session, actor=f.OPERATOR,
    )  # fmt: skip
    await session.commit()
    bad = w.members[0].phone
    assert bad is not None
    gateway = Script(outcomes={bad: (RecipientOutcome.permanent, 403, "InvalidPhoneNumber")})
    await sender(sessions, gateway, clock).send_due()
    async with sessions() as s:
        [delivery] = (await s.exec(select(WebhookDelivery))).all()
    payload = json.loads(delivery.body)
    assert delivery.endpoint_id == endpoint.id and payload["type"] == "message.failed"
    assert payload["data"]["error"] == "InvalidPhoneNumber (403)"
    assert bad not in delivery.body and "body" not in payload["data"]
