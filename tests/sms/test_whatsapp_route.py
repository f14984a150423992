"""WhatsApp's rules decide the way of each message to a person who chose WhatsApp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.models.enums import Reach
from sms.whatsapp_route import Fallback, PersonReach, Route, Way, route

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
NUMBER = "+254711082000"
OPTED_IN = NOW - timedelta(days=30)


def whatsapp(
    *, opt_in: datetime | None = OPTED_IN, out: datetime | None = None, wrote: timedelta | None
) -> PersonReach:
    last = None if wrote is None else NOW - wrote
    return PersonReach(Reach.whatsapp, opt_in, out, last)


@pytest.mark.parametrize(
    ("template", "person", "number", "expected"),
    [
        # SMS people, and people with no record, go by SMS with no reason to give.
        ("reminder", PersonReach(Reach.sms, OPTED_IN, None, NOW), NUMBER, Route(Way.sms)),
        ("reminder", None, NUMBER, Route(Way.sms)),
        # WhatsApp's preconditions, each with its reason.
        ("reminder", whatsapp(wrote=None), None, Route(Way.sms, fallback=Fallback.no_number)),
        ("reminder", whatsapp(opt_in=None, wrote=timedelta(hours=1)), NUMBER,
         Route(Way.sms, fallback=Fallback.no_opt_in)),
        ("reminder", whatsapp(out=NOW - timedelta(days=1), wrote=None), NUMBER,
         Route(Way.sms, fallback=Fallback.opted_out)),
        # Opted in again after an opt-out: WhatsApp again.
        ("reminder", whatsapp(opt_in=NOW - timedelta(hours=2), out=NOW - timedelta(days=3),
                              wrote=timedelta(hours=2)), NUMBER, Route(Way.text)),
        # Inside the 24-hour window anything goes as free text.
        ("rsvp_yes", whatsapp(wrote=timedelta(hours=23, minutes=59)), NUMBER, Route(Way.text)),
        (None, whatsapp(wrote=timedelta(minutes=5)), NUMBER, Route(Way.text)),
        # Outside it, only an approved template; anything else by SMS, never attempted.
        ("reminder", whatsapp(wrote=timedelta(hours=24)), NUMBER,
         Route(Way.template, template="copline_reminder")),
        ("sign_in_code", whatsapp(wrote=None), NUMBER,
         Route(Way.template, template="copline_sign_in_code")),
        ("rsvp_yes", whatsapp(wrote=timedelta(days=2)), NUMBER,
         Route(Way.sms, fallback=Fallback.outside_window)),
        (None, whatsapp(wrote=None), NUMBER, Route(Way.sms, fallback=Fallback.outside_window)),
    ],
)  # fmt: skip
def test_the_way_a_message_goes(
    template: str | None, person: PersonReach | None, number: str | None, expected: Route
) -> None:
    assert route(template, person, number, NOW) == expected
