"""Expected failures as typed results: every mutation returns a payload or one of these.

Each type implements the `Error` interface (`code`, `message`), so a client can
handle the ones it knows and show the message for the rest.
"""

from __future__ import annotations

from datetime import datetime

import pydantic
import strawberry

from service.domain import errors as domain
from service.domain.errors import field_messages


@strawberry.interface(description="An expected failure, with a stable code and a readable message.")
class Error:
    code: str
    message: str


@strawberry.type
class FieldError:
    field: str
    message: str


@strawberry.type
class NotFound(Error):
    pass


@strawberry.type
class NotAllowed(Error):
    pass


@strawberry.type
class ValidationError(Error):
    fields: list[FieldError]


@strawberry.type
class Conflict(Error):
    field: str | None


@strawberry.type
class MeetingInPast(Error):
    pass


@strawberry.type
class MeetingClash(Error):
    pass


@strawberry.type
class MeetingCancelled(Error):
    pass


@strawberry.type
class MeetingClosed(Error):
    pass


@strawberry.type
class MeetingNotStarted(Error):
    pass


@strawberry.type
class NotAMember(Error):
    pass


@strawberry.type
class RemindedRecently(Error):
    reminded_at: datetime | None


@strawberry.type
class NotEnoughDates(Error):
    available: int
    requested: int


ErrorType = (
    NotFound | NotAllowed | ValidationError | Conflict | MeetingInPast | MeetingClash
    | MeetingCancelled | MeetingClosed | MeetingNotStarted | NotAMember | NotEnoughDates
    | RemindedRecently
)  # fmt: skip


def from_domain(exc: domain.DomainError) -> ErrorType:
    code, message = exc.code, exc.message
    match exc:
        case domain.NotFound():
            return NotFound(code=code, message=message)
        case domain.NotAllowed():
            return NotAllowed(code=code, message=message)
        case domain.ValidationError():
            fields = [FieldError(field=exc.field, message=message)] if exc.field else []
            return ValidationError(code=code, message=message, fields=fields)
        case domain.MeetingClash():
            return MeetingClash(code=code, message=message)
        case domain.Conflict():
            return Conflict(code=code, message=message, field=exc.params.get("field"))
        case domain.MeetingInPast():
            return MeetingInPast(code=code, message=message)
        case domain.MeetingCancelled():
            return MeetingCancelled(code=code, message=message)
        case domain.MeetingClosed():
            return MeetingClosed(code=code, message=message)
        case domain.MeetingNotStarted():
            return MeetingNotStarted(code=code, message=message)
        case domain.NotAMember():
            return NotAMember(code=code, message=message)
        case domain.RemindedRecently():
            return RemindedRecently(code=code, message=message, reminded_at=exc.params.get("at"))
        case domain.NotEnoughDates():
            return NotEnoughDates(code=code, message=message, available=exc.params["available"],
                                  requested=exc.params["requested"])  # fmt: skip
    return ValidationError(code=code, message=message, fields=[])


def from_validation(exc: pydantic.ValidationError) -> ValidationError:
    problems = [FieldError(field=_camel(where), message=msg) for where, msg in field_messages(exc)]
    summary = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
    return ValidationError(code="validation_error", message=summary, fields=problems)


def _camel(path: str) -> str:
    head, *rest = path.split("_")
    return head + "".join(word.capitalize() for word in rest)


def not_allowed(scope: str) -> NotAllowed:
    return NotAllowed(code="not_allowed", message=f"this API key lacks the {scope!r} scope")
