"""Signing in to the console: a one-time code by SMS, then a session.

No password to forget or to share: a person proves they hold their phone. A code
is 6 digits, lives 10 minutes, opens one session and takes 5 tries; asking again
retires the codes asked before. Codes and session tokens are stored only as keyed
hashes. Whether the number belongs to anybody is never said: an unknown number
gets the same answer and simply no SMS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, outbox
from service.domain.actor import Actor
from service.domain.errors import InvalidPhone
from service.domain.phones import normalise_phone
from service.models import ConsoleSession, Person, Programme, SignInCode
from service.models.enums import Channel, Country

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
SIGN_IN = "sign_in"  # the outbox kind of a code's SMS
# Writing last-seen on every page would turn reads into writes; once a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


def _keyed(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def candidate_phones(raw: str) -> list[str]:
    """Every E.164 number `raw` can mean: written with `+` it is one; written locally it
    is read in each country copline serves (a Kenyan and a Rwandan reading never both
    belong to somebody with a console role in practice, and both are tried)."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    found: list[str] = []
    for country in Country:
        try:
            phone = normalise_phone(text, country.value)
        except InvalidPhone:
            continue
        if phone not in found:
            found.append(phone)
    if not found:
        raise InvalidPhone(f"{raw.strip()!r} is not a mobile number", field="phone")
    return found


async def console_people(session: AsyncSession, phones: Sequence[str]) -> list[Person]:
    """People with a console role on any of these numbers, across programmes."""
    stmt = (
        select(Person)
        .where(col(Person.phone).in_(list(phones)), col(Person.console_role).is_not(None))
        .order_by(col(Person.id))
    )
    return list((await session.exec(stmt)).all())


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


async def request_code(
    session: AsyncSession, phones: Sequence[str], *, secret: str, now: datetime
) -> bool:
    """Queue a code to the person behind these numbers, if there is one (True).

    The SMS ignores quiet hours: the person is waiting for it."""
    people = await console_people(session, phones)
    phone = people[0].phone if people and people[0].phone else phones[0]
    await session.execute(
        sa.update(SignInCode)
        .where(col(SignInCode.phone) == phone, col(SignInCode.used_at).is_(None))
        .values(expires_at=now)
    )
    code = new_code()
    # A row for an unknown number too (its code goes nowhere): both answers then do the
    # same work, so neither the reply nor its timing says whether the number is known.
    session.add(
        SignInCode(
            phone=phone,
            code_hash=_keyed(secret, f"{phone}:{code}"),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    if not people:
        await session.commit()
        return False
    person = people[0]
    assert person.phone is not None and person.id is not None
    programme = await session.get(Programme, person.programme_id)
    assert programme is not None
    await outbox.queue(
        session,
        programme,
        [outbox.Recipient(person.id, person.phone, person.language)],
        kind=SIGN_IN,
        template="sign_in_code",
        params={"programme": programme.name, "code": code},
        due=now,
        now=now,
        quiet=False,
    )
    await session.commit()
    return True


async def check_code(
    session: AsyncSession, phones: Sequence[str], code: str, *, secret: str, now: datetime
) -> list[Person]:
    """The people the code signs in as (several when one phone serves several
    programmes), or [] for a wrong, used, expired or exhausted code. Every try counts."""
    stmt = (
        select(SignInCode)
        .where(
            col(SignInCode.phone).in_(list(phones)),
            col(SignInCode.used_at).is_(None),
            col(SignInCode.expires_at) > now,
        )
        .order_by(col(SignInCode.id).desc())
        .limit(1)
    )
    row = (await session.exec(stmt)).first()
    if row is None or row.tries >= MAX_TRIES:
        return []
    row.tries += 1
    given = "".join(ch for ch in code if ch.isdigit())
    if not hmac.compare_digest(row.code_hash, _keyed(secret, f"{row.phone}:{given}")):
        await session.commit()
        return []
    row.used_at = now
    people = await console_people(session, [row.phone])
    await session.commit()
    return people


@dataclass(frozen=True)
class Opened:
    session: ConsoleSession
    token: str  # the cookie's value, never stored


def _token_hash(token: str) -> str:
    # Tokens carry 256 bits of randomness: a fast unkeyed hash is enough.
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(session: AsyncSession, person: Person, *, now: datetime) -> Opened:
    assert person.id is not None
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=_token_hash(token),
        person_id=person.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    await session.flush()
    actor = Actor.person(person.id, Channel.console)
    audit.record(session, actor, "console.sign_in", row, programme_id=person.programme_id)
    await session.commit()
    return Opened(row, token)


@dataclass(frozen=True)
class Signed:
    session: ConsoleSession
    person: Person


async def find_session(
    session: AsyncSession, token: str, *, now: datetime, idle: timedelta, lifetime: timedelta
) -> Signed | None:
    """The live session behind a cookie, touched at most once a minute; None when it
    is unknown, revoked, idle too long, too old, or its person lost console access."""
    if not token:
        return None
    stmt = (
        select(ConsoleSession, Person)
        .join(Person, col(Person.id) == col(ConsoleSession.person_id))
        .where(col(ConsoleSession.token_hash) == _token_hash(token))
    )
    found = (await session.exec(stmt)).first()
    if found is None:
        return None
    row, person = found
    if (
        row.revoked_at is not None
        or person.console_role is None
        or now - row.last_seen_at > idle
        or now - row.created_at > lifetime
    ):
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        await session.commit()
    return Signed(row, person)


async def switch_person(session: AsyncSession, signed: Signed, person_id: int) -> Person | None:
    """Move a session to another of the phone's console people (another programme)."""
    if signed.person.phone is None:
        return None
    for person in await console_people(session, [signed.person.phone]):
        if person.id == person_id:
            signed.session.person_id = person_id
            await session.commit()
            return person
    return None


async def revoke(session: AsyncSession, row: ConsoleSession, *, now: datetime) -> None:
    if row.revoked_at is None:
        row.revoked_at = now
        await session.commit()


async def revoke_all(session: AsyncSession, person_id: int, *, now: datetime) -> int:
    """End every session of a person (access removed, a lost phone)."""
    result = await session.execute(
        sa.update(ConsoleSession)
        .where(col(ConsoleSession.person_id) == person_id, col(ConsoleSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
