"""Each accepted message is reported back to the service, as AT does, after a delay."""

from __future__ import annotations

import dataclasses
import time

from sms.gateway import RecipientOutcome
from tests.sms.support import WANJIRU, StandInService, StartSimulator, eventually, send


async def test_every_accepted_message_gets_one_report_and_failures_follow_the_share(
    start_at_sim: StartSimulator, receiver: StandInService
) -> None:
    at_sim = await start_at_sim(failure_share=0.25, seed=42)
    numbers = [f"+2547110{n:05d}" for n in range(400)]

    results = await send(at_sim.gateway(), "Reminder: CoP meets Friday", *numbers, "+2541")
    await eventually(lambda: len(receiver.delivery_reports) >= 400, what="400 reports")

    sent_ids = {r.message_id for r in results if r.outcome is RecipientOutcome.accepted}
    reports = receiver.delivery_reports
    assert len(reports) == 400
    assert {r["id"] for r in reports} == sent_ids  # one each; none for the refused number
    failed = [r for r in reports if r["status"] == "Failed"]
    assert 0.18 <= len(failed) / 400 <= 0.32
    assert all(r["failureReason"] == "DeliveryFailure" for r in failed)
    assert all(
        r["status"] == "Success" and "failureReason" not in r for r in reports if r not in failed
    )
    assert {r["phoneNumber"] for r in reports} == set(numbers)
    assert {(r["networkCode"], r["retryCount"]) for r in reports} == {("63902", "0")}


async def test_the_same_seed_fails_the_same_messages(
    start_at_sim: StartSimulator, receiver: StandInService
) -> None:
    numbers = [f"+2547110{n:05d}" for n in range(50)]
    failed_numbers = []
    for _ in range(2):
        receiver.reset()
        at_sim = await start_at_sim(failure_share=0.3, seed=7)
        await send(at_sim.gateway(), "Reminder", *numbers)
        await eventually(lambda: len(receiver.delivery_reports) == 50, what="50 reports")
        failed_numbers.append(
            sorted(r["phoneNumber"] for r in receiver.delivery_reports if r["status"] == "Failed")
        )

    assert failed_numbers[0] == failed_numbers[1]
    assert failed_numbers[0]  # some did fail


async def test_reports_come_after_the_delivery_delay_and_the_phone_sees_the_status(
    start_at_sim: StartSimulator, receiver: StandInService
) -> None:
    at_sim = await start_at_sim(delivery_delay_s=0.6)
    sent_at = time.monotonic()

    [result] = await send(at_sim.gateway(), "Reminder", WANJIRU)
    assert [m["status"] for m in await at_sim.inbox(WANJIRU)] == ["Sent"]
    await eventually(lambda: len(receiver.delivery_reports) == 1, what="the report")

    assert time.monotonic() - sent_at >= 0.6
    assert receiver.delivery_reports[0]["id"] == result.message_id
    assert [m["status"] for m in await at_sim.inbox(WANJIRU)] == ["Success"]


async def test_a_service_that_stumbles_gets_the_report_again(
    start_at_sim: StartSimulator, receiver: StandInService
) -> None:
    at_sim = await start_at_sim()
    receiver.fail_next_reports = 2

    await send(at_sim.gateway(), "Reminder", WANJIRU)
    await eventually(lambda: len(receiver.delivery_reports) == 1, what="the report")

    assert receiver.refused_reports == 2
    assert (await at_sim.seen())["delivery_reports"] == {
        "queued": 1,
        "sent": 1,
        "dropped": 0,
        "pending": 0,
    }


async def test_reports_for_a_service_that_is_down_are_dropped_after_a_few_tries(
    start_at_sim: StartSimulator,
) -> None:
    at_sim = await start_at_sim(service_url="http://127.0.0.1:9")  # nothing listens

    results = await send(at_sim.gateway(), "Reminder", WANJIRU, "+250788123456")
    assert all(r.outcome is RecipientOutcome.accepted for r in results)

    await eventually(lambda: at_sim.state.reports.dropped == 2, what="2 drops", timeout_s=2.5)

    assert (await at_sim.seen())["delivery_reports"]["dropped"] == 2
    # The simulator itself carries on.
    assert (await at_sim.http.get("/healthz")).json() == {"status": "ok"}


async def test_a_running_simulator_can_be_pointed_at_a_service_that_started_later(
    start_at_sim: StartSimulator, receiver: StandInService, receiver_url: str
) -> None:
    at_sim = await start_at_sim(service_url="http://127.0.0.1:9")

    at_sim.state.config = dataclasses.replace(at_sim.state.config, service_url=receiver_url)
    [result] = await send(at_sim.gateway(), "Reminder", WANJIRU)
    reply = await at_sim.http.post(f"/sim/phones/{WANJIRU}/sms", json={"text": "YES", "to": "1"})
    await eventually(lambda: len(receiver.delivery_reports) == 1, what="the report")

    assert receiver.delivery_reports[0]["id"] == result.message_id
    assert reply.json()["service_status"] == 200
