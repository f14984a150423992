"""Rate limits on signing in, per phone number and per client address.

Counted by the `limits` library in memory (one process) or in Redis when several
processes or machines serve (`COPLINE_RATE_LIMIT_STORAGE=redis://…`), so a limit
holds across all of them. Phone numbers are hashed before they become keys.
"""

from __future__ import annotations

import hashlib

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

# Codes asked for one number: a person who mistyped asks twice or three times.
CODES_PER_PHONE = (parse("3/15 minutes"), parse("10/day"))
# Codes asked from one address: a school or office shares one address behind NAT.
CODES_PER_ADDRESS = (parse("30/hour"),)
# Codes tried from one address, across numbers: 5 per code, a few codes an hour.
TRIES_PER_ADDRESS = (parse("60/hour"),)


def _async_uri(uri: str) -> str:
    return uri if uri.startswith("async+") else f"async+{uri}"


def _key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


class SignInLimits:
    def __init__(self, storage_uri: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(_async_uri(storage_uri)))

    async def _hit(self, items: tuple[RateLimitItem, ...], *key: str) -> bool:
        # Test every window first: a refused request must not use up the others.
        for item in items:
            if not await self.limiter.test(item, *key):
                return False
        for item in items:
            await self.limiter.hit(item, *key)
        return True

    async def may_ask_code(self, phone: str, address: str) -> bool:
        if not await self._hit(CODES_PER_ADDRESS, "code-address", _key(address)):
            return False
        return await self._hit(CODES_PER_PHONE, "code-phone", _key(phone))

    async def may_try_code(self, address: str) -> bool:
        return await self._hit(TRIES_PER_ADDRESS, "try-address", _key(address))
