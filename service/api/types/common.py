"""What every type shares: the Node interface, the enums, and phone masking."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from service.api.context import Context
from service.domain.phones import mask_phone
from service.models import enums
from service.models.enums import (
    Channel,
    CommunityKind,
    ConsentState,
    ConsoleRole,
    Country,
    Direction,
    Encoding,
    Gender,
    Language,
    MeetingStatus,
    MembershipRole,
    MembershipStatus,
    MessageStatus,
    Modality,
    Presence,
    QuestionKind,
    Reach,
    ResponseStatus,
    Role,
    Rsvp,
    Scope,
    SurveyStatus,
    UssdBilling,
    Weekday,
)

Info_ = Info[Context, Any]

# The domain's enums are the API's: registering them keeps one vocabulary everywhere.
for _enum in (
    Channel, CommunityKind, ConsentState, ConsoleRole, Country, Direction, Encoding, Gender,
    Language, MeetingStatus, MembershipRole, MembershipStatus, MessageStatus, Modality, Presence,
    QuestionKind, Reach, ResponseStatus, Role, Rsvp, Scope, SurveyStatus, UssdBilling, Weekday,
):  # fmt: skip
    strawberry.enum(_enum)


@strawberry.interface(description="An object with an opaque global id.")
class Node:
    id: strawberry.ID


def phone_for(info: Info_, phone: str | None) -> str | None:
    """Whole with `read:pii`, masked (`+25078•••••21`) without."""
    return phone if info.context.has(enums.Scope.read_pii) else mask_phone(phone)


__all__ = [
    "Channel", "CommunityKind", "ConsentState", "ConsoleRole", "Country", "Direction", "Encoding",
    "Gender", "Info_", "Language", "MeetingStatus", "MembershipRole", "MembershipStatus",
    "MessageStatus", "Modality", "Node", "Presence", "QuestionKind", "Reach", "ResponseStatus",
    "Role", "Rsvp", "Scope", "SurveyStatus", "UssdBilling", "Weekday", "phone_for",
]  # fmt: skip
