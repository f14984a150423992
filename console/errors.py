"""Each domain refusal's stable code (service.domain.errors) as a sentence to translate."""

from __future__ import annotations

from console.i18n import _

MESSAGES: dict[str, str] = {
    "domain_error": _("That could not be done."),
    "not_found": _("That was not found."),
    "not_allowed": _("Your role does not allow that."),
    "validation_error": _("Some of what you entered is not valid."),
    "invalid_phone": _("That is not a valid mobile number."),
    "conflict": _("That clashes with something already stored."),
    "duplicate_phone": _("Somebody in this programme already has that phone number."),
    "meeting_in_past": _("A meeting cannot be scheduled in the past."),
    "meeting_cancelled": _("That meeting is cancelled."),
    "meeting_closed": _("That meeting is over and can no longer be changed."),
    "meeting_not_started": _("That meeting has not started yet."),
    "reminded_recently": _("The members were reminded a short while ago."),
    "not_a_member": _("That person is not a member of this community."),
    "not_enough_dates": _("The term has too few open days for that many meetings."),
    "meeting_clash": _("The community already meets at that time."),
}
