"""Partner API keys: random, shown once, stored hashed, scoped, bound to one programme."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import NotFound, ValidationError
from service.domain.lookup import get_owned
from service.models import ApiKey, Programme
from service.models.enums import Scope
from service.models.types import utcnow

PREFIX = "cpl"
# Writing last-used on every request would turn reads into writes; once a minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the whole key, shown once and never stored


def _hash(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(values: list[str]) -> list[Scope]:
    scopes = []
    for value in values:
        try:
            scopes.append(Scope(value.strip()))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValidationError(
                f"unknown scope {value!r} (known: {known})", field="scopes"
            ) from None
    if not scopes:
        raise ValidationError("a key needs at least one scope", field="scopes")
    return list(dict.fromkeys(scopes))


async def create_api_key(
    programme: Programme, name: str, scopes: list[Scope], *, session: AsyncSession, actor: Actor
) -> IssuedKey:
    assert programme.id is not None
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationError("a key needs a name of 1 to 100 characters", field="name")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        programme_id=programme.id,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=[s.value for s in scopes],
        created_by=actor.label,
    )
    session.add(key)
    await session.flush()
    audit.record(session, actor, "apikey.create", key,
                 changes={"name": name, "scopes": key.scopes, "prefix": prefix})  # fmt: skip
    return IssuedKey(key=key, secret=f"{PREFIX}_{prefix}_{secret}")


async def authenticate(
    session: AsyncSession, presented: str, *, now: datetime | None = None
) -> ApiKey | None:
    """The live key behind `presented`, or None. Touches last-used at most once a minute."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    _, prefix, secret = parts
    key = (await session.exec(select(ApiKey).where(ApiKey.prefix == prefix))).first()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        key.last_used_at = now
        await session.commit()
    return key


async def revoke_api_key(
    programme_id: int, key_id: int, *, session: AsyncSession, actor: Actor
) -> ApiKey:
    key = await get_owned(session, ApiKey, key_id, programme_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, actor, "apikey.revoke", key)
        await session.flush()
    return key


async def find_by_prefix(session: AsyncSession, prefix: str) -> ApiKey:
    key = (await session.exec(select(ApiKey).where(ApiKey.prefix == prefix))).first()
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    return key


async def list_api_keys(session: AsyncSession, programme_id: int) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.programme_id == programme_id).order_by(col(ApiKey.id))
    return list((await session.exec(stmt)).all())
