"""Which way an outbox row goes to a person whose channel is WhatsApp, by WhatsApp's rules.

WhatsApp lets a business write first only to someone who opted in, and only with a
pre-approved template outside the 24-hour customer-service window that the person's
own last message opens; free text goes only inside that window. So, for a row to a
person who chose WhatsApp:

- no WhatsApp number for the programme, no opt-in, or an opt-out of WhatsApp: SMS,
  with that reason;
- inside the window: free text (the SMS wording, with the meeting's buttons);
- outside it: the row's approved template when it has one (reminders, notices,
  survey invitations, sign-in codes), else SMS with the reason, so a reply, a
  broadcast or a digest is never attempted where WhatsApp would refuse it.

Everything else goes by SMS as it always has. A WhatsApp refusal at sending (not on
WhatsApp, template refused) or a failed report sends the row again by SMS, with the
reason recorded (sms/whatsapp_sender.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from service.models.enums import Reach

WINDOW = timedelta(hours=24)

# SMS template -> the approved WhatsApp template that carries the same words (one per
# language, registered with the same wording as sms/templates): what may go first.
TEMPLATES: dict[str, str] = {
    "reminder": "copline_reminder",
    "reminder_no_venue": "copline_reminder",
    "reminder_activity": "copline_reminder",
    "reminder_activity_no_venue": "copline_reminder",
    "moved": "copline_meeting_moved",
    "moved_no_venue": "copline_meeting_moved",
    "cancelled": "copline_meeting_cancelled",
    "cancelled_no_reason": "copline_meeting_cancelled",
    "survey_invite": "copline_survey_invite",
    "sign_in_code": "copline_sign_in_code",
}
# Templates whose message asks for YES or NO: quick-reply buttons on the smartphone.
ANSWERED_BY_BUTTONS = frozenset(
    {
        "reminder",
        "reminder_no_venue",
        "reminder_activity",
        "reminder_activity_no_venue",
        "moved",
        "moved_no_venue",
    }
)


class Way(StrEnum):
    sms = "sms"
    text = "text"  # free text inside the 24-hour window
    template = "template"  # an approved template, any time


class Fallback(StrEnum):
    """Why a row to a WhatsApp person goes by SMS: kept on the row."""

    no_number = "programme has no WhatsApp number"
    no_opt_in = "no WhatsApp opt-in"
    opted_out = "opted out of WhatsApp"
    outside_window = "outside the 24-hour window, no template"


@dataclass(frozen=True)
class PersonReach:
    reach: Reach
    opt_in_at: datetime | None
    opted_out_at: datetime | None
    last_inbound_at: datetime | None


@dataclass(frozen=True)
class Route:
    way: Way
    template: str | None = None  # the WhatsApp template, for Way.template
    fallback: Fallback | None = None  # why SMS, for a WhatsApp person


def route(
    sms_template: str | None, person: PersonReach | None, wa_number: str | None, now: datetime
) -> Route:
    """The way a row goes: `sms_template` None for a body a person wrote (a broadcast)."""
    if person is None or person.reach is not Reach.whatsapp:
        return Route(Way.sms)
    if not wa_number:
        return Route(Way.sms, fallback=Fallback.no_number)
    if person.opt_in_at is None:
        return Route(Way.sms, fallback=Fallback.no_opt_in)
    if person.opted_out_at is not None and person.opted_out_at >= person.opt_in_at:
        return Route(Way.sms, fallback=Fallback.opted_out)
    if person.last_inbound_at is not None and now - person.last_inbound_at < WINDOW:
        return Route(Way.text)
    if sms_template is not None and sms_template in TEMPLATES:
        return Route(Way.template, template=TEMPLATES[sms_template])
    return Route(Way.sms, fallback=Fallback.outside_window)
