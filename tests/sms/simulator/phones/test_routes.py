"""The phones in the browser, as the simulator serves them: a picker of demo and recent
numbers, a page with both phones for a number, the JSON the page reads, and its own
script and styles (nothing from the internet)."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.demo import PROGRAMMES
from sms.simulator import SimulatorConfig, create_simulator_app
from sms.simulator.phones.known import demo
from tests.sms.support import WANJIRU, RunningSimulator, StandInService, send

DEMO_ROSTERS = Path(__file__).resolve().parents[4] / "service" / "demo"
EVERLYNE = "+254712100002"


@pytest.fixture
async def sim_http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_simulator_app(SimulatorConfig())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


async def test_the_picker_lists_the_demo_phones_with_their_names(
    sim_http: httpx.AsyncClient,
) -> None:
    answer = await sim_http.get("/sim/phones/")

    assert answer.status_code == 200
    assert "Everlyne Ingosi" in answer.text
    assert f'href="/sim/phones/{EVERLYNE}/view"' in answer.text
    assert (await sim_http.get("/sim/phones")).headers["location"].endswith("/sim/phones/")


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ({"phone": " +254 712 999 001 "}, "/sim/phones/+254712999001/view"),
        (
            {"phone": "+254712999001", "whatsapp": "+254712999002"},
            "/sim/phones/+254712999001/view?whatsapp=%2B254712999002",
        ),
        ({"phone": "+254712999001", "whatsapp": "+254712999001"}, "/sim/phones/+254712999001/view"),
    ],
)
async def test_a_typed_number_opens_its_phones(
    sim_http: httpx.AsyncClient, query: dict[str, str], where: str
) -> None:
    answer = await sim_http.get("/sim/phones/", params=query)

    assert answer.status_code == 303
    assert answer.headers["location"] == where


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"phone": "0712999001"}, "Type a number in international form, e.g. +254712100002."),
        ({"phone": ""}, "Type a number in international form, e.g. +254712100002."),
        (
            {"phone": "+254712999001", "whatsapp": "whatsapp"},
            "Type a number in international form, or leave it empty.",
        ),
    ],
)
async def test_a_number_that_is_not_one_is_refused_with_the_reason(
    sim_http: httpx.AsyncClient, query: dict[str, str], error: str
) -> None:
    answer = await sim_http.get("/sim/phones/", params=query)

    assert answer.status_code == 400
    assert 'role="alert"' in answer.text
    assert answer.text.count(error) == 2  # in the summary and beside the field
    assert "aria-invalid" in answer.text


async def test_the_view_of_something_not_a_number_is_not_found(
    sim_http: httpx.AsyncClient,
) -> None:
    assert (await sim_http.get("/sim/phones/hello/view")).status_code == 404
    assert (await sim_http.get(f"/sim/phones/{EVERLYNE}/view?whatsapp=x")).status_code == 404


async def test_the_page_shows_both_phones_and_the_sms_the_phone_received_newest_first(
    at_sim: RunningSimulator,
) -> None:
    gateway = at_sim.gateway()
    await send(gateway, "Mkutano kesho saa 8", WANJIRU)
    await send(gateway, "Jibu NDIYO 4821", WANJIRU)

    answer = await at_sim.http.get(f"/sim/phones/{WANJIRU}/view", params={"whatsapp": EVERLYNE})

    assert answer.status_code == 200
    page = answer.text
    assert re.search(r"<h2[^>]*>Basic phone", page) and re.search(r"<h2[^>]*>Smartphone", page)
    assert f'data-phone="{WANJIRU}"' in page and f'data-whatsapp="{EVERLYNE}"' in page
    assert page.index("Jibu NDIYO 4821") < page.index("Mkutano kesho saa 8")
    assert "Everlyne Ingosi, teacher, ke-clusters" in page
    assert 'aria-live="polite"' in page  # the screen is read out as it changes
    for label in ("Call or send", "End", "Clear one character"):
        assert f'aria-label="{label}"' in page
    for key in "0123456789*#":
        assert f'data-key="{key}">{key}' in page


async def test_the_page_knows_the_codes_dialled_and_the_phones_met(
    at_sim: RunningSimulator, receiver: StandInService
) -> None:
    await at_sim.http.post(f"/sim/phones/{WANJIRU}/ussd", json={"service_code": "*384*7777#"})
    await at_sim.http.get("/sim/phones/+250788999001/view")  # a number a trainer typed
    await send(at_sim.gateway(), "Hello", "+255712000001")  # a phone that got an SMS

    known = (await at_sim.http.get("/sim/phones/known")).json()

    codes = known["service_codes"]
    assert codes[: len(demo()["service_codes"])] == [c["code"] for c in demo()["service_codes"]]
    assert "*384*7777#" in codes
    phones = [p["phone"] for p in known["phones"]]
    demo_count = len(demo()["phones"])
    assert phones[:demo_count] == [p["phone"] for p in demo()["phones"]]
    assert set(phones[demo_count:]) == {WANJIRU, "+250788999001", "+255712000001"}
    assert known["short_codes"] == ["20880"]


async def test_the_page_loads_its_script_and_styles_from_the_simulator_only(
    sim_http: httpx.AsyncClient,
) -> None:
    page = await sim_http.get(f"/sim/phones/{EVERLYNE}/view")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="(/sim/phones/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/sim/phones/static/phones.css", "/sim/phones/static/phones.js"]
    for path in assets:
        asset = await sim_http.get(path)
        assert asset.status_code == 200
        assert not re.search(r"https?://", asset.text), f"{path} reaches outside"
    assert not re.search(r"https?://", page.text)


def test_the_demo_phones_and_codes_are_the_demos() -> None:
    """demo.json names people of the demo rosters, says who of them is on WhatsApp (the
    roster's channel), and lists the demo programmes' codes."""
    people = {
        row["phone"]: (row["name"], row["channel"] == "whatsapp")
        for roster in DEMO_ROSTERS.glob("*/people.csv")
        for row in csv.DictReader(roster.open(encoding="utf-8"))
    }
    for listed in demo()["phones"]:
        on_whatsapp = "on WhatsApp" in listed["who"]
        assert people.get(listed["phone"]) == (listed["name"], on_whatsapp), listed
    assert any("on WhatsApp" in listed["who"] for listed in demo()["phones"])
    assert {c["code"] for c in demo()["service_codes"]} == {
        p.settings.service_code for p in PROGRAMMES
    }
    assert set(demo()["short_codes"]) == {p.settings.short_code for p in PROGRAMMES}
