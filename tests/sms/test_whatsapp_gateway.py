"""The WhatsApp adapter: the real africastalking SDK, over HTTP, to the simulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr

from service.config import Settings
from sms.whatsapp_gateway import (
    AT_CHAT_URL,
    AfricasTalkingWhatsApp,
    Refusal,
    WhatsAppOutcome,
    WhatsAppResult,
    parse_answer,
)
from tests.sms.support import (
    KAMANZI,
    WANJIRU,
    RunningSimulator,
    StandInService,
    StartSimulator,
    eventually,
)

BUSINESS = "+254711082000"  # the simulator's default business number
RSVP = ["I'll come", "I can't come"]


def whatsapp(at_sim: RunningSimulator, *, timeout_s: float = 2.0) -> AfricasTalkingWhatsApp:
    return AfricasTalkingWhatsApp(
        username="sandbox",
        api_key=at_sim.state.config.api_key,
        base_url=at_sim.url,
        timeout_s=timeout_s,
    )


async def call(method: Any, *args: Any, **kwargs: Any) -> WhatsAppResult:
    # As the worker will: the SDK blocks, so it runs off the event loop.
    result: WhatsAppResult = await asyncio.to_thread(method, *args, **kwargs)
    return result


async def chat(at_sim: RunningSimulator, phone: str) -> dict[str, Any]:
    answer = await at_sim.http.get(f"/sim/whatsapp/{phone}")
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


async def phone_writes(at_sim: RunningSimulator, phone: str, **body: Any) -> dict[str, Any]:
    answer = await at_sim.http.post(f"/sim/phones/{phone}/whatsapp", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_free_text_with_buttons_reaches_the_phone_that_wrote_first(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    await phone_writes(at_sim, WANJIRU, text="Hello")

    gateway = whatsapp(at_sim)
    result = await call(gateway.send_text, BUSINESS, WANJIRU, "Maths CoP Thursday 2pm", RSVP)

    assert result.outcome is WhatsAppOutcome.accepted
    assert result.message_id is not None and result.message_id.startswith("ATWAid_")
    [_, sent] = (await chat(at_sim, WANJIRU))["messages"]
    assert (sent["id"], sent["direction"], sent["kind"]) == (result.message_id, "out", "text")
    assert (sent["text"], sent["buttons"]) == ("Maths CoP Thursday 2pm", RSVP)
    seen = (await at_sim.http.get("/sim/whatsapp/requests")).json()
    assert seen["last_request"] == {
        "username": "sandbox",
        "waNumber": BUSINESS,
        "kind": "message",
        "api_key_sent": True,
    }


async def test_free_text_outside_the_24_hour_window_is_refused(at_sim: RunningSimulator) -> None:
    gateway = whatsapp(at_sim)

    never_wrote = await call(gateway.send_text, BUSINESS, WANJIRU, "Hello")
    await phone_writes(at_sim, KAMANZI, text="Muraho")
    await at_sim.http.post(f"/sim/whatsapp/{KAMANZI}/window", json={"hours_ago": 25})
    wrote_yesterday = await call(gateway.send_text, BUSINESS, KAMANZI, "Muraho")

    for result in (never_wrote, wrote_yesterday):
        assert (result.outcome, result.refusal) == (WhatsAppOutcome.refused, Refusal.outside_window)
        assert result.message_id is None
    assert [m["direction"] for m in (await chat(at_sim, KAMANZI))["messages"]] == ["in"]
    assert (await chat(at_sim, WANJIRU))["messages"] == []


async def test_a_number_not_on_whatsapp_is_refused_with_its_kind(
    start_at_sim: StartSimulator,
) -> None:
    at_sim = await start_at_sim(whatsapp_absent_suffixes=("99",))
    await at_sim.http.post(f"/sim/whatsapp/absent/{WANJIRU}")
    gateway = whatsapp(at_sim)

    results = [
        await call(gateway.send_template, BUSINESS, phone, "cop_reminder", "en", ["Maths"])
        for phone in (WANJIRU, "+254712000099")
    ]

    for result in results:
        assert (result.outcome, result.refusal) == (
            WhatsAppOutcome.refused,
            Refusal.not_on_whatsapp,
        )
    assert (await chat(at_sim, WANJIRU))["on_whatsapp"] is False
    await at_sim.http.delete(f"/sim/whatsapp/absent/{WANJIRU}")
    back = await call(gateway.send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["Maths"])
    assert back.outcome is WhatsAppOutcome.accepted


async def test_a_template_goes_outside_the_window_with_its_buttons(
    at_sim: RunningSimulator,
) -> None:
    gateway = whatsapp(at_sim)

    result = await call(
        gateway.send_template,
        BUSINESS,
        WANJIRU,
        "cop_reminder",
        "sw",
        ["Hisabati", "Alhamisi 14:00", "4821"],
        RSVP,
        preview="Hisabati: Alhamisi 14:00 (4821)",
    )

    assert result.outcome is WhatsAppOutcome.accepted
    [sent] = (await chat(at_sim, WANJIRU))["messages"]
    assert (sent["kind"], sent["template"], sent["buttons"]) == ("template", "cop_reminder", RSVP)
    assert sent["text"] == "Hisabati: Alhamisi 14:00 (4821)"


@pytest.mark.parametrize(
    ("name", "language", "params"),
    [
        ("paused_template", "en", ["Maths"]),  # marked refused below
        ("Not A Name", "en", ["Maths"]),
        ("cop_reminder", "english", ["Maths"]),
        ("cop_reminder", "en", ["two\nlines"]),
        ("cop_reminder", "en", ["tab\there"]),
        ("cop_reminder", "en", [""]),
    ],
)
async def test_a_template_whatsapp_would_refuse_is_refused(
    at_sim: RunningSimulator, name: str, language: str, params: list[str]
) -> None:
    await at_sim.http.post("/sim/whatsapp/refused-templates/paused_template")

    result = await call(whatsapp(at_sim).send_template, BUSINESS, WANJIRU, name, language, params)

    assert (result.outcome, result.refusal) == (WhatsAppOutcome.refused, Refusal.template_refused)
    assert (await chat(at_sim, WANJIRU))["messages"] == []


async def test_a_document_goes_as_a_link_within_the_window(at_sim: RunningSimulator) -> None:
    await phone_writes(at_sim, WANJIRU, text="Which page?")
    url = "https://toolkit.example/p12.pdf"

    result = await call(whatsapp(at_sim).send_document, BUSINESS, WANJIRU, url, "p12 Fractions")

    assert result.outcome is WhatsAppOutcome.accepted
    sent = (await chat(at_sim, WANJIRU))["messages"][-1]
    assert (sent["kind"], sent["url"], sent["text"]) == ("document", url, "p12 Fractions")


async def test_bad_requests_are_refused_here_without_a_call(at_sim: RunningSimulator) -> None:
    gateway = whatsapp(at_sim)

    results = [
        await call(gateway.send_text, BUSINESS, "0712345678", "Hi"),  # the SDK's own check
        await call(gateway.send_text, BUSINESS, WANJIRU, "Hi", ["a label far too long to fit"]),
        await call(gateway.send_template, BUSINESS, "0712345678", "cop_reminder", "en", []),
    ]

    for result in results:
        assert (result.outcome, result.refusal) == (WhatsAppOutcome.refused, Refusal.invalid)
    assert (await at_sim.http.get("/sim/whatsapp/requests")).json()["requests"] == 0


async def test_status_callbacks_follow_an_accepted_message(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    result = await call(
        whatsapp(at_sim).send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["Maths"]
    )

    def statuses() -> list[str]:
        return [
            form["status"]
            for form in receiver.received("whatsapp/status")
            if form["id"] == result.message_id
        ]

    await eventually(lambda: len(statuses()) == 3, what="three status callbacks")
    assert statuses() == ["sent", "delivered", "read"]
    assert receiver.received("whatsapp/status")[0]["phoneNumber"] == WANJIRU
    assert (await chat(at_sim, WANJIRU))["messages"][0]["status"] == "read"


async def test_a_failed_message_reports_sent_then_failed(
    start_at_sim: StartSimulator, receiver: StandInService
) -> None:
    at_sim = await start_at_sim(whatsapp_failure_share=1.0)
    result = await call(
        whatsapp(at_sim).send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["Maths"]
    )

    await eventually(lambda: len(receiver.received("whatsapp/status")) == 2, what="two callbacks")
    forms = receiver.received("whatsapp/status")
    assert [(f["id"], f["status"]) for f in forms] == [
        (result.message_id, "sent"),
        (result.message_id, "failed"),
    ]
    assert forms[1]["failureReason"] == "DeliveryFailure"


async def test_a_phone_taps_a_button_and_the_service_hears_it(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    sent = await call(
        whatsapp(at_sim).send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["Maths"], RSVP
    )

    by_label = await phone_writes(at_sim, WANJIRU, button="i'll come")
    by_number = await phone_writes(at_sim, WANJIRU, button=2)
    typed = await phone_writes(at_sim, WANJIRU, text="YES 4821")

    forms = receiver.received("whatsapp/inbound")
    assert [f["id"] for f in forms] == [by_label["id"], by_number["id"], typed["id"]]
    assert [(f.get("button"), f["text"], f.get("replyTo")) for f in forms] == [
        ("I'll come", "I'll come", sent.message_id),
        ("I can't come", "I can't come", sent.message_id),
        (None, "YES 4821", None),
    ]
    assert {(f["from"], f["to"]) for f in forms} == {(WANJIRU, BUSINESS)}
    assert (await chat(at_sim, WANJIRU))["window_open"] is True


async def test_a_button_tapped_under_an_older_reminder_answers_that_reminder(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    send = whatsapp(at_sim).send_template
    older = await call(send, BUSINESS, WANJIRU, "cop_reminder", "en", ["Maths"], RSVP)
    newer = await call(send, BUSINESS, WANJIRU, "cop_reminder", "en", ["English"], RSVP)

    await phone_writes(at_sim, WANJIRU, button="I'll come", message=older.message_id)
    await phone_writes(at_sim, WANJIRU, button=2, message=newer.message_id)
    await phone_writes(at_sim, WANJIRU, button="I'll come")  # no message: the latest

    forms = receiver.received("whatsapp/inbound")
    assert [(f["button"], f["replyTo"]) for f in forms] == [
        ("I'll come", older.message_id),
        ("I can't come", newer.message_id),
        ("I'll come", newer.message_id),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": "a", "button": "b"},
        {"button": "Maybe"},
        {"button": 3},
        {"text": " "},
        {"button": 1, "message": "ATWAid_unknown"},
    ],
)
async def test_a_phone_cannot_send_what_whatsapp_would_not(
    at_sim: RunningSimulator, receiver: StandInService, body: dict[str, Any]
) -> None:
    await call(whatsapp(at_sim).send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["M"], RSVP)

    answer = await at_sim.http.post(f"/sim/phones/{WANJIRU}/whatsapp", json=body)

    assert answer.status_code == 400
    assert receiver.received("whatsapp/inbound") == []


async def test_a_500_is_transient_and_a_timeout_maybe_taken(at_sim: RunningSimulator) -> None:
    gateway = whatsapp(at_sim, timeout_s=0.5)
    await at_sim.http.post("/sim/whatsapp/faults", json={"mode": "http500", "count": 1})
    failed = await call(gateway.send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["M"])
    await at_sim.http.post(
        "/sim/whatsapp/faults", json={"mode": "timeout", "count": 1, "delay_s": 1.0}
    )
    lost = await call(gateway.send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["M"])

    assert failed.outcome is WhatsAppOutcome.transient
    assert lost.outcome is WhatsAppOutcome.maybe_taken
    # The simulator took the timed-out one: resending would have sent it twice.
    await eventually(
        lambda: len(at_sim.state.whatsapp.chat(WANJIRU)) == 1, what="the late acceptance"
    )


async def test_an_unreachable_gateway_is_transient() -> None:
    gateway = AfricasTalkingWhatsApp(
        username="sandbox", api_key="k", base_url="http://127.0.0.1:9", timeout_s=0.5
    )
    result = await call(gateway.send_template, BUSINESS, WANJIRU, "cop_reminder", "en", ["M"])
    assert result.outcome is WhatsAppOutcome.transient


@pytest.mark.parametrize(
    ("status", "body", "outcome", "refusal"),
    [
        (200, '{"messageId": "ATX1", "phoneNumber": "+254712345678", "status": "SENT"}',
         WhatsAppOutcome.accepted, None),
        (200, '{"messageId": "None", "status": "Failed", "errorCode": "131026"}',
         WhatsAppOutcome.refused, Refusal.not_on_whatsapp),
        (400, '{"errorCode": "131047", "errorMessage": "Re-engagement message"}',
         WhatsAppOutcome.refused, Refusal.outside_window),
        (400, '{"status": "Failed", "errorCode": "132001"}',
         WhatsAppOutcome.refused, Refusal.template_refused),
        (403, '{"status": "Failed", "errorCode": "NoOptIn"}',
         WhatsAppOutcome.refused, Refusal.no_opt_in),
        (400, '{"status": "Failed", "errorCode": "SomethingNew"}',
         WhatsAppOutcome.refused, Refusal.invalid),
        (400, "Bad Request", WhatsAppOutcome.refused, Refusal.invalid),
        (200, "<html>Wi-Fi login</html>", WhatsAppOutcome.maybe_taken, None),
        (401, "The supplied authentication is invalid", WhatsAppOutcome.transient, None),
        (429, "slow down", WhatsAppOutcome.transient, None),
        (503, "", WhatsAppOutcome.transient, None),
    ],
)  # fmt: skip
def test_answers_are_read_by_what_they_mean(
    status: int, body: str, outcome: WhatsAppOutcome, refusal: Refusal | None
) -> None:
    result = parse_answer(status, body)
    assert (result.outcome, result.refusal) == (outcome, refusal)


@pytest.mark.parametrize(
    ("key", "base_url", "expected"),
    [
        (None, "http://127.0.0.1:8790", "http://127.0.0.1:8790"),
        ("real", "http://127.0.0.1:8790", AT_CHAT_URL),
        ("real", "https://api.africastalking.com", AT_CHAT_URL),
        ("real", "https://at-proxy.example.org", "https://at-proxy.example.org"),
    ],
)
def test_the_base_url_comes_from_configuration_as_for_sms(
    key: str | None, base_url: str, expected: str
) -> None:
    settings = Settings(
        at_api_key=SecretStr(key) if key else None,
        at_base_url=base_url,
        at_username="copline",
        _env_file=None,
    )
    gateway = AfricasTalkingWhatsApp.from_settings(settings)
    assert gateway.base_url == expected
    gateway.close()


async def test_an_outbound_proxy_set_in_the_environment_carries_the_requests(
    at_sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A programme's server may reach AT only through its network's proxy. The gateway
    # host here does not resolve: only the proxy (the simulator, answering as the
    # host it was asked for) can carry the request.
    monkeypatch.setenv("HTTP_PROXY", at_sim.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    await phone_writes(at_sim, WANJIRU, text="Hello")
    gateway = AfricasTalkingWhatsApp(
        username="sandbox",
        api_key=at_sim.state.config.api_key,
        base_url="http://gateway.copline.invalid",
        timeout_s=2.0,
    )

    result = await call(gateway.send_text, BUSINESS, WANJIRU, "Through the proxy")

    assert result.outcome is WhatsAppOutcome.accepted, result
    assert (await chat(at_sim, WANJIRU))["messages"][-1]["text"] == "Through the proxy"
