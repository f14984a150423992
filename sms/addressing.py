"""Whom a facilitator's `TO <name or number> <text>` means, among their members.

Only the active members of the communities the facilitator facilitates can be
named: a number or a name outside them is "no member matches", whoever it is.

- A number in any form the programme's region reads (`0712 345 678`,
  `+254712345678`, `254 712 345678`): the longest run of digit groups at the start
  that is a mobile number; the rest is the text.
- A name: first name, first names or the full name, in any case, with or without
  accents ("amina", "AMINA MWANGI", "Josée" for "Josee"). The longest match wins:
  "Amina Mwangi see you" means Amina Mwangi even beside Amina Otieno; "Amina see
  you" then means both, and the facilitator is shown the matches to choose from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.errors import InvalidPhone
from service.domain.phones import normalise_phone
from service.models import Membership, Person
from service.models.enums import MembershipRole, MembershipStatus
from sms.keywords import text_after, tokens

MAX_NAME_WORDS = 4  # "Marie Claire Uwase Mukamana": longer names are typed shorter
_NUMBER_START = re.compile(r"^\+?[0-9][0-9 ()\-]*")
_MIN_DIGITS = 7  # fewer digits than that cannot be a phone number: it is a name or a typo


@dataclass(frozen=True)
class Found:
    person: Person
    text: str  # what follows the name or number, as typed


@dataclass(frozen=True)
class Ambiguous:
    people: list[Person]


@dataclass(frozen=True)
class NoMatch:
    who: str  # the name or number as the facilitator typed it


Addressed = Found | Ambiguous | NoMatch


async def members_of(
    session: AsyncSession, community_ids: Sequence[int], *, exclude: int | None
) -> list[Person]:
    """The active members (facilitators too) of these communities, each once, by name."""
    if not community_ids:
        return []
    rows = await session.exec(
        select(Person)
        .where(
            col(Person.id).in_(
                select(Membership.person_id).where(
                    col(Membership.community_id).in_(list(community_ids)),
                    col(Membership.status) == MembershipStatus.active,
                )
            ),
            col(Person.id) != exclude,
        )
        .order_by(col(Person.name), col(Person.id))
    )
    return list(rows.all())


def _number(rest: str, region: str) -> tuple[str, str | None, str] | None:
    """(the number as typed, its E.164 form or None when it is no mobile number, the
    text after it) when `rest` starts with a number; None when it starts with a name."""
    start = _NUMBER_START.match(rest)
    if start is None or sum(ch.isdigit() for ch in start.group()) < _MIN_DIGITS:
        return None
    groups = start.group().split()
    for count in range(len(groups), 0, -1):
        typed = " ".join(groups[:count])
        try:
            number = normalise_phone(typed, region)
        except InvalidPhone:
            continue
        after = rest.split(None, count)
        return typed, number, after[count].strip() if len(after) > count else ""
    return start.group().strip(), None, ""


def address(rest: str, members: Sequence[Person], region: str) -> Addressed:
    """Who `rest` ("Amina see you Friday", "0712345678 see you") names, among `members`."""
    by_number = _number(rest, region)
    if by_number is not None:
        typed, number, text = by_number
        found = [p for p in members if number is not None and p.phone == number]
        return Found(found[0], text) if found else NoMatch(typed)
    words = tokens(rest)
    names = {id(p): tokens(p.name) for p in members}
    for length in range(min(MAX_NAME_WORDS, len(words)), 0, -1):
        hits = [p for p in members if names[id(p)][:length] == words[:length]]
        if not hits:
            continue
        whole = [p for p in hits if len(names[id(p)]) == length]
        if len(hits) > 1 and len(whole) == 1:
            hits = whole  # "Amina Mwangi" is that Amina Mwangi, not "Amina Mwangi Achieng"
        if len(hits) > 1:
            return Ambiguous(hits)
        return Found(hits[0], text_after(rest, length))
    return NoMatch(rest.split(None, 1)[0] if rest.split() else rest)


async def facilitated_by(session: AsyncSession, person_id: int) -> list[int]:
    """The communities this person actively facilitates."""
    rows = await session.exec(
        select(Membership.community_id).where(
            col(Membership.person_id) == person_id,
            col(Membership.role) == MembershipRole.facilitator,
            col(Membership.status) == MembershipStatus.active,
        )
    )
    return sorted(rows.all())
