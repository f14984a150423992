"""Expected failures as typed results: every mutation returns a payload or one of these.

Each type implements the `Error` interface (`code`, `message`), so a client can
handle the ones it knows and show the message for the rest. Failures outside a
result (a malformed query, a missing scope, a crash) are told apart and logged below.
"""

from __future__ import annotations

import re
from datetime import datetime

import pydantic
import strawberry
import structlog
from graphql import GraphQLError

from service.domain import errors as domain
from service.domain.errors import DomainError, field_messages


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


class DatabaseUnavailable(GraphQLError):
    """A query's database (the replica, with `COPLINE_DATABASE_READ_URL`) is not
    answering: said plainly, never masked, and the caller may simply try again."""

    def __init__(self) -> None:
        super().__init__(
            "the database is not answering; try again in a minute",
            extensions={"code": "DATABASE_UNAVAILABLE"},
        )


# --- Failures outside the typed results: how they are told apart, logged and shown ---

log = structlog.get_logger("service.api")

# graphql-core's "Did you mean 'name'?" (or "… the enum value 'X'?"), at the end of a
# message or before "Found: …": with introspection off it would still spell out the
# schema piece by piece. GraphQL names hold no "?".
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
# Where graphql-core quotes back what a client sent ("… found: {…}", "… value: 'x'"),
# any quoted text that is not a GraphQL name, and long digit runs (a phone).
_SENT = re.compile(
    r"\b(?:found|value)\s*:\s*(?=[\[{'\"\d+<-]|True\b|False\b|None\b).*", re.IGNORECASE | re.DOTALL
)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NAME = re.compile(r"""^['"]\$?[_A-Za-z][_0-9A-Za-z.\[\]!]*['"]$""")
_DIGITS = re.compile(r"\+?\d{6,}")
MAX_LOGGED_REASON = 300


def without_suggestion(message: str) -> str:
    return _SUGGESTION.sub("", message)


def is_client_mistake(error: GraphQLError) -> bool:
    """A malformed query, bad variables, a missing scope, a rule's "no": the caller's to
    read and fix. Anything else is our failure."""
    original = error.original_error
    return original is None or isinstance(original, DomainError | GraphQLError)


def _scrubbed(message: str) -> str:
    """The message without the values the client sent (they may be phones or texts)."""
    message = _SENT.sub(lambda m: m.group().split(":", 1)[0] + ": …", message)
    message = _QUOTED.sub(lambda m: m.group() if _NAME.match(m.group()) else "'…'", message)
    message = _DIGITS.sub("…", message)
    return message.split("\n", 1)[0][:MAX_LOGGED_REASON]


def log_error(error: GraphQLError, context: object, operation: str | None) -> None:
    """One line for a client's mistake, at INFO; a traceback only for our own failures."""
    key = getattr(getattr(context, "key", None), "prefix", None)
    path = ".".join(str(p) for p in error.path or ()) or None
    if isinstance(error.original_error, DatabaseUnavailable):
        cause = error.original_error.__cause__
        log.warning("graphql.database_unavailable", operation=operation, key=key, path=path,
                    error=type(cause).__name__ if cause else None)  # fmt: skip
        return
    if not is_client_mistake(error):
        log.error("graphql.failed", operation=operation, key=key, path=path,
                  exc_info=error.original_error)  # fmt: skip
        return
    original = error.original_error
    if isinstance(original, DomainError):
        # Our own messages may quote what was sent (an id, a phone): the code says enough.
        field = original.params.get("field")
        reason = f"{original.code} ({field})" if field else original.code
    else:
        reason = _scrubbed(error.message)
    log.info("graphql.refused", operation=operation, key=key, path=path, reason=reason)
