"""A simulated phone texts, dials and opts out; the service hears it as it would hear AT."""

from __future__ import annotations

import re

from tests.sms.support import (
    USSD_MENU,
    WANJIRU,
    RunningSimulator,
    StandInService,
    StartSimulator,
)


async def test_an_sms_from_a_phone_reaches_the_service_with_ats_fields(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    answer = await at_sim.http.post(
        f"/sim/phones/{WANJIRU}/sms", json={"text": "YES 4821", "to": "22384"}
    )

    assert answer.status_code == 200
    assert answer.json()["service_status"] == 200
    [form] = receiver.received("sms/inbound")
    assert set(form) == {"from", "to", "text", "date", "id", "linkId", "networkCode"}
    assert (form["from"], form["to"], form["text"]) == (WANJIRU, "22384", "YES 4821")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", form["date"])  # AT's format
    assert form["id"] == answer.json()["id"]
    assert form["networkCode"] == "63902"


async def test_a_test_can_choose_the_date_as_at_sometimes_writes_it(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    await at_sim.http.post(
        f"/sim/phones/{WANJIRU}/sms",
        json={"text": "HERE 4821", "to": "22384", "date": "2026-11-22T14:03:11.000Z"},
    )

    assert receiver.received("sms/inbound")[0]["date"] == "2026-11-22T14:03:11.000Z"


async def test_a_phone_dials_ussd_and_reads_the_services_screens(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    first = await at_sim.http.post(
        f"/sim/phones/{WANJIRU}/ussd", json={"service_code": "*384*2541#"}
    )
    session_id = first.json()["session_id"]
    second = await at_sim.http.post(
        f"/sim/phones/{WANJIRU}/ussd",
        json={"service_code": "*384*2541#", "session_id": session_id, "text": "1"},
    )

    assert (first.json()["text"], first.json()["ended"]) == (USSD_MENU, False)
    assert (second.json()["text"], second.json()["ended"]) == ("END Thank you", True)
    hops = receiver.received("ussd")
    assert hops == [
        {
            "sessionId": session_id,
            "serviceCode": "*384*2541#",
            "phoneNumber": WANJIRU,
            "networkCode": "63902",
            "text": text,
        }
        for text in ("", "1")
    ]


async def test_opting_out_reaches_the_service_as_ats_opt_out_callback(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    answer = await at_sim.http.post(f"/sim/optout/{WANJIRU}", json={"sender_id": "CoPKenya"})

    assert answer.json() == {"service_status": 200}
    assert receiver.received("sms/optout") == [{"senderId": "CoPKenya", "phoneNumber": WANJIRU}]


async def test_callbacks_carry_the_secret_token_in_the_path(
    start_at_sim: StartSimulator, receiver: StandInService
) -> None:
    wrong_token = await start_at_sim(callback_token="not-the-token")

    answer = await wrong_token.http.post(f"/sim/optout/{WANJIRU}")

    assert answer.json() == {"service_status": 404}
    assert receiver.callbacks == []


async def test_a_service_that_is_down_is_reported_to_the_trainer(
    start_at_sim: StartSimulator,
) -> None:
    at_sim = await start_at_sim(service_url="http://127.0.0.1:9")

    answer = await at_sim.http.post(
        f"/sim/phones/{WANJIRU}/sms", json={"text": "YES", "to": "22384"}
    )

    assert answer.status_code == 502
    assert "cannot reach the service" in answer.json()["error"]
