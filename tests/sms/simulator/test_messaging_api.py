"""The simulator speaks AT's messaging API over plain HTTP, for clients other than the SDK."""

from __future__ import annotations

from typing import Any

import httpx

from sms.simulator.messaging import segments
from tests.sms.support import AT_KEY, KAMANZI, WANJIRU, RunningSimulator

AT_HEADERS = {"apiKey": AT_KEY, "Accept": "application/json"}


async def post(at_sim: RunningSimulator, headers: dict[str, str], **form: str) -> httpx.Response:
    return await at_sim.http.post("/version1/messaging", data=form, headers=headers)


async def sms(at_sim: RunningSimulator, to: str, message: str = "Hello", **form: str) -> Any:
    answer = await post(at_sim, AT_HEADERS, username="sandbox", to=to, message=message, **form)
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"  # the SDK wants it exact
    return answer.json()


async def test_the_answer_has_ats_shape(at_sim: RunningSimulator) -> None:
    body = await sms(at_sim, f"{WANJIRU},+2541")

    assert body["SMSMessageData"]["Message"] == "Sent to 1/2 Total Cost: KES 0.8000"
    accepted, refused = body["SMSMessageData"]["Recipients"]
    assert accepted["messageId"].startswith("ATXid_")
    assert {k: v for k, v in accepted.items() if k != "messageId"} == {
        "statusCode": 101,
        "number": WANJIRU,
        "status": "Success",
        "cost": "KES 0.8000",
    }
    assert refused == {
        "statusCode": 403,
        "number": "+2541",
        "status": "InvalidPhoneNumber",
        "cost": "0",
        "messageId": "None",
    }


async def test_queued_messages_answer_success_with_code_102(at_sim: RunningSimulator) -> None:
    body = await sms(at_sim, WANJIRU, enqueue="1")

    recipient = body["SMSMessageData"]["Recipients"][0]
    assert (recipient["status"], recipient["statusCode"]) == ("Success", 102)


async def test_a_missing_field_or_key_is_refused_like_at(at_sim: RunningSimulator) -> None:
    no_to = await post(at_sim, AT_HEADERS, username="sandbox", message="Hi")
    no_key = await post(at_sim, {}, username="sandbox", to=WANJIRU, message="Hi")

    assert (no_to.status_code, no_to.text) == (400, "Request is missing required form field 'to'")
    assert no_key.status_code == 401
    assert (await at_sim.seen())["requests"] == 0


async def test_a_wrong_api_key_is_refused_with_ats_401(at_sim: RunningSimulator) -> None:
    wrong = await post(
        at_sim,
        {**AT_HEADERS, "apiKey": "not-the-key"},
        username="sandbox",
        to=WANJIRU,
        message="Hi",
    )

    assert (wrong.status_code, wrong.text) == (401, "The supplied authentication is invalid")
    assert (await at_sim.seen())["requests"] == 0
    assert await at_sim.inbox(WANJIRU) == []


def test_segments_are_counted_as_operators_bill_them() -> None:
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert segments("{" * 80) == 1  # extension characters take two septets
    assert segments("{" * 81) == 2
    assert segments("é" * 160) == 1  # é is in GSM-7
    assert segments("ŵ" * 70) == 1
    assert segments("ŵ" * 71) == 2
    assert segments("ŵ" * 134) == 2
    assert segments("🙂" * 35) == 1  # two UTF-16 units each


async def test_the_inbox_and_the_counters_can_be_read_and_cleared(
    at_sim: RunningSimulator,
) -> None:
    await sms(at_sim, f"{WANJIRU},{KAMANZI}", "First")
    await sms(at_sim, WANJIRU, "Second")

    assert [m["text"] for m in await at_sim.inbox(WANJIRU)] == ["First", "Second"]
    assert {k: v for k, v in (await at_sim.seen()).items() if k in ("requests", "recipients")} == {
        "requests": 2,
        "recipients": 3,
    }
    await at_sim.http.delete("/sim/inbox")
    await at_sim.http.delete("/sim/requests")

    assert await at_sim.inbox(WANJIRU) == []
    assert (await at_sim.seen())["requests"] == 0


async def test_a_fault_lasts_for_its_count_or_until_reset(at_sim: RunningSimulator) -> None:
    await at_sim.fault(mode="http500", count=2)
    statuses = [
        (await post(at_sim, AT_HEADERS, username="s", to=WANJIRU, message="m")).status_code
        for _ in range(3)
    ]
    await at_sim.fault(mode="http500")  # no count: until reset
    until_reset = [
        (await post(at_sim, AT_HEADERS, username="s", to=WANJIRU, message="m")).status_code
        for _ in range(3)
    ]
    await at_sim.http.delete("/sim/faults")
    after_reset = await post(at_sim, AT_HEADERS, username="s", to=WANJIRU, message="m")

    assert statuses == [500, 500, 201]
    assert until_reset == [500, 500, 500]
    assert after_reset.status_code == 201
    assert (await at_sim.seen())["faulted"] == 5


async def test_a_malformed_fault_is_refused(at_sim: RunningSimulator) -> None:
    for fault in ({"mode": "flood"}, {"mode": "reject", "reject_share": 2}, {"modes": "none"}):
        answer = await at_sim.http.post("/sim/faults", json=fault)
        assert answer.status_code == 400, fault


async def test_health(at_sim: RunningSimulator) -> None:
    assert (await at_sim.http.get("/healthz")).json() == {"status": "ok"}
