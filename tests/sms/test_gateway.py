"""The gateway adapter: the real africastalking SDK, sending over HTTP to the simulator."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from pydantic import SecretStr

from service.config import Settings
from sms.gateway import (
    AT_PRODUCTION_URL,
    AT_SANDBOX_URL,
    MAX_RECIPIENTS,
    AfricasTalkingGateway,
    GatewayError,
    RecipientOutcome,
    RecipientResult,
)
from tests.faults.proxy import FaultyProxy
from tests.sms.support import KAMANZI, WANJIRU, RunningSimulator, send


def by_number(results: list[RecipientResult]) -> dict[str, RecipientResult]:
    return {result.number: result for result in results}


async def test_the_sdk_posts_to_the_configured_base_url(at_sim: RunningSimulator) -> None:
    await send(at_sim.gateway(), "Meeting on Thursday", WANJIRU, sender_id="CoPKenya")

    seen = await at_sim.seen()
    assert seen["requests"] == 1
    assert seen["last_request"] == {
        "username": "sandbox",
        "from": "CoPKenya",
        "bulkSMSMode": "1",
        "enqueue": None,
        "recipients": 1,
        "api_key_sent": True,
    }


async def test_accepted_recipients_get_a_message_id_and_a_cost(
    at_sim: RunningSimulator,
) -> None:
    results = await send(
        at_sim.gateway(), "Maths CoP meets Thursday 2pm", WANJIRU, KAMANZI, sender_id="CoPKenya"
    )

    assert {r.number for r in results} == {WANJIRU, KAMANZI}
    for result in results:
        assert result.outcome is RecipientOutcome.accepted
        assert (result.status, result.status_code) == ("Success", 101)
        assert result.message_id is not None and result.message_id.startswith("ATXid_")
        assert (result.cost, result.currency) == (Decimal("0.8000"), "KES")
    inbox = await at_sim.inbox(WANJIRU)
    assert [(m["from"], m["text"]) for m in inbox] == [("CoPKenya", "Maths CoP meets Thursday 2pm")]
    assert inbox[0]["id"] == by_number(results)[WANJIRU].message_id


async def test_an_invalid_number_is_refused_for_good_while_the_others_go_out(
    at_sim: RunningSimulator,
) -> None:
    too_short = "+25471234"  # passes the SDK's check; AT refuses it
    not_international = "0712345678"  # the SDK would refuse the whole batch for this one

    results = by_number(
        await send(at_sim.gateway(), "Reminder", WANJIRU, too_short, not_international)
    )

    assert results[WANJIRU].outcome is RecipientOutcome.accepted
    for number in (too_short, not_international):
        assert results[number].outcome is RecipientOutcome.permanent
        assert (results[number].status, results[number].status_code) == ("InvalidPhoneNumber", 403)
        assert (results[number].message_id, results[number].cost) == (None, None)
    seen = await at_sim.seen()
    assert (seen["requests"], seen["recipients"], seen["accepted"]) == (1, 2, 1)


async def test_a_message_outside_gsm7_costs_more_segments(at_sim: RunningSimulator) -> None:
    gateway = at_sim.gateway()
    plain = "Habari! Mkutano wa CoP ni Alhamisi saa nane mchana. Jibu NDIYO au HAPANA."  # 75
    accented = plain.replace("Alhamisi", "Alhamisi ✓")  # one tick: the whole text is UCS-2
    long_plain = "x" * 161

    assert (await send(gateway, plain, WANJIRU))[0].cost == Decimal("0.8000")
    assert (await send(gateway, accented, WANJIRU))[0].cost == Decimal("1.6000")
    assert (await send(gateway, long_plain, WANJIRU))[0].cost == Decimal("1.6000")


async def test_a_whole_request_answered_500_is_worth_retrying_and_sent_nothing(
    at_sim: RunningSimulator,
) -> None:
    await at_sim.fault(mode="http500", count=1)

    with pytest.raises(GatewayError) as raised:
        await send(at_sim.gateway(), "Reminder", WANJIRU)

    assert raised.value.transient
    assert "500" in raised.value.reason
    assert await at_sim.inbox(WANJIRU) == []
    # The fault was for one request only: the retry goes through.
    assert (await send(at_sim.gateway(), "Reminder", WANJIRU))[0].outcome == "accepted"


async def test_a_hanging_gateway_fails_within_the_timeout_as_maybe_taken(
    at_sim: RunningSimulator,
) -> None:
    await at_sim.fault(mode="timeout", count=1, delay_s=1.5)
    started = time.monotonic()

    with pytest.raises(GatewayError) as raised:
        await send(at_sim.gateway(timeout_s=0.3), "Reminder", WANJIRU)

    # The request reached AT: resending could send it twice, so it is not "transient".
    assert raised.value.maybe_taken and not raised.value.transient
    assert time.monotonic() - started < 1.2


async def test_a_gateway_that_cannot_be_reached_is_a_transient_failure(
    at_sim: RunningSimulator,
) -> None:
    gone = at_sim.url
    await at_sim.server.stop()
    gateway = AfricasTalkingGateway(username="sandbox", api_key="k", base_url=gone, timeout_s=1)

    with pytest.raises(GatewayError) as raised:
        await send(gateway, "Reminder", WANJIRU)

    assert raised.value.transient


async def test_a_connection_reset_after_the_request_left_is_maybe_taken_not_retried(
    at_sim: RunningSimulator,
) -> None:
    # The proxy hands the request to AT, reads AT's answer, then resets our connection.
    proxy = await FaultyProxy("127.0.0.1", at_sim.server.port, reset_share=1.0).start()
    try:
        gateway = AfricasTalkingGateway(
            username="sandbox", api_key=at_sim.state.config.api_key, base_url=proxy.url
        )
        with pytest.raises(GatewayError) as raised:
            await send(gateway, "Reminder", WANJIRU)
    finally:
        await proxy.stop()

    assert proxy.counters.resets == 1
    assert raised.value.maybe_taken and not raised.value.transient
    assert "ConnectionResetError" in raised.value.reason
    assert len(await at_sim.inbox(WANJIRU)) == 1  # AT took it: sending again sends twice


async def test_a_name_that_does_not_resolve_never_left_and_is_retried() -> None:
    gateway = AfricasTalkingGateway(
        username="sandbox", api_key="k", base_url="http://at-gateway.invalid", timeout_s=2
    )

    with pytest.raises(GatewayError) as raised:
        await send(gateway, "Reminder", WANJIRU)

    assert raised.value.transient and not raised.value.maybe_taken


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        (405, "InsufficientBalance", RecipientOutcome.transient),
        (500, "InternalServerError", RecipientOutcome.transient),
        (501, "GatewayError", RecipientOutcome.transient),
        (502, "RejectedByGateway", RecipientOutcome.transient),
        (401, "RiskHold", RecipientOutcome.permanent),
        (406, "UserInBlacklist", RecipientOutcome.permanent),
        (407, "CouldNotRoute", RecipientOutcome.permanent),
        (409, "DoNotDisturbRejection", RecipientOutcome.permanent),
    ],
)
async def test_each_refusal_says_whether_sending_again_can_help(
    at_sim: RunningSimulator, code: int, status: str, outcome: RecipientOutcome
) -> None:
    await at_sim.fault(mode="reject", reject_share=1.0, reject_status_code=code)

    [result] = await send(at_sim.gateway(), "Reminder", WANJIRU)

    assert (result.status_code, result.status, result.outcome) == (code, status, outcome)
    assert result.message_id is None


async def test_a_partly_rejected_request_reports_each_recipient_on_its_own(
    at_sim: RunningSimulator,
) -> None:
    numbers = [f"+2547120000{n:02d}" for n in range(40)]
    await at_sim.fault(mode="reject", reject_share=0.5, reject_status_code=502)

    results = await send(at_sim.gateway(), "Reminder", *numbers)

    outcomes = [r.outcome for r in results]
    assert sorted(r.number for r in results) == numbers
    assert 8 <= outcomes.count(RecipientOutcome.transient) <= 32
    accepted = [r for r in results if r.outcome is RecipientOutcome.accepted]
    assert len(accepted) + outcomes.count(RecipientOutcome.transient) == 40
    assert (await at_sim.seen())["accepted"] == len(accepted)


async def test_an_unknown_sender_id_refuses_the_whole_request_for_good(
    at_sim: RunningSimulator,
) -> None:
    with pytest.raises(GatewayError) as raised:
        await send(at_sim.gateway(), "Reminder", WANJIRU, sender_id="Copline Kenya Programme")

    assert (raised.value.reason, raised.value.transient) == ("InvalidSenderId", False)


async def test_a_request_at_refuses_as_malformed_is_not_retried(
    at_sim: RunningSimulator,
) -> None:
    with pytest.raises(GatewayError) as raised:
        await send(at_sim.gateway(), "", WANJIRU)  # AT requires a message

    assert not raised.value.transient
    assert "400" in raised.value.reason


@pytest.mark.parametrize(
    # 401 is a key an operator will fix: the messages wait for it rather than fail.
    ("code", "transient"),
    [(429, True), (503, True), (401, True), (404, False), (200, False)],
)
async def test_a_base_url_answering_like_something_else_than_at(
    receiver_url: str, code: int, transient: bool
) -> None:
    # 200 is a captive portal's HTML page: a 2xx that is not AT's JSON.
    gateway = AfricasTalkingGateway(
        username="sandbox", api_key="k", base_url=f"{receiver_url}/status/{code}"
    )

    with pytest.raises(GatewayError) as raised:
        await send(gateway, "Reminder", WANJIRU)

    assert raised.value.transient is transient


async def test_a_thousand_recipients_go_in_one_request_and_no_more(
    at_sim: RunningSimulator,
) -> None:
    numbers = [f"+254700{n:06d}" for n in range(MAX_RECIPIENTS)]

    results = await send(at_sim.gateway(), "Term 3 starts Monday", *numbers)

    assert len(results) == MAX_RECIPIENTS
    assert all(r.outcome is RecipientOutcome.accepted for r in results)
    assert len({r.message_id for r in results}) == MAX_RECIPIENTS
    assert (await at_sim.seen())["requests"] == 1
    with pytest.raises(ValueError, match="at most 1000"):
        at_sim.gateway().send("Too many", [*numbers, "+254799999999"])


async def test_only_numbers_refused_before_sending_means_no_request(
    at_sim: RunningSimulator,
) -> None:
    [result] = await send(at_sim.gateway(), "Reminder", "not a number")

    assert result.outcome is RecipientOutcome.permanent
    assert (await at_sim.seen())["requests"] == 0


def test_with_no_api_key_the_gateway_talks_to_the_simulator() -> None:
    settings = Settings(_env_file=None, at_base_url="http://127.0.0.1:9999")

    gateway = AfricasTalkingGateway.from_settings(settings)

    assert gateway.base_url == "http://127.0.0.1:9999"


def test_with_a_key_and_no_base_url_the_gateway_talks_to_africas_talking() -> None:
    live = Settings(_env_file=None, at_username="copline", at_api_key=SecretStr("atsk_live"))
    sandbox = Settings(_env_file=None, at_username="sandbox", at_api_key=SecretStr("atsk_test"))
    chosen = Settings(
        _env_file=None,
        at_username="copline",
        at_api_key=SecretStr("atsk_live"),
        at_base_url="https://at-proxy.example.org",
    )

    assert AfricasTalkingGateway.from_settings(live).base_url == AT_PRODUCTION_URL
    assert AfricasTalkingGateway.from_settings(sandbox).base_url == AT_SANDBOX_URL
    assert AfricasTalkingGateway.from_settings(chosen).base_url == "https://at-proxy.example.org"
