"""Expected failures of the domain, each with a stable code a channel can translate."""

from __future__ import annotations

from typing import Any, ClassVar

import pydantic


class DomainError(Exception):
    """A rule said no. `code` is stable for channels and clients; `message` is English."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    code = "not_found"


class NotAllowed(DomainError):
    code = "not_allowed"


class ValidationError(DomainError):
    code = "validation_error"

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(message, field=field, **params)
        self.field = field


class InvalidPhone(ValidationError):
    code = "invalid_phone"


class Conflict(DomainError):
    code = "conflict"


class DuplicatePhone(Conflict):
    code = "duplicate_phone"


class MeetingInPast(DomainError):
    code = "meeting_in_past"


class MeetingCancelled(DomainError):
    code = "meeting_cancelled"


class MeetingClosed(DomainError):
    """The meeting is over (or held) and no longer takes this change."""

    code = "meeting_closed"


class MeetingNotStarted(DomainError):
    code = "meeting_not_started"


class RemindedRecently(DomainError):
    code = "reminded_recently"


class NotAMember(DomainError):
    code = "not_a_member"


class NotEnoughDates(DomainError):
    code = "not_enough_dates"


class MeetingClash(Conflict):
    code = "meeting_clash"


class LegalHold(Conflict):
    """The person's data is under a legal hold: it may not be erased until it is lifted."""

    code = "legal_hold"


class PersonErased(Conflict):
    """The person's data was erased: nothing more is recorded about them."""

    code = "erased"


def field_messages(exc: pydantic.ValidationError) -> list[tuple[str, str]]:
    """(field path, message) for each problem, worded for a person rather than a developer."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        problems.append((where, message))
    return problems
