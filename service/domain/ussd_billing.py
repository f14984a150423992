"""What the network charges for USSD: the programme's `ussd_price` once per session, or
per 20 seconds begun (as Kenyan and Rwandan networks bill), by its `ussd_billing`.

A session's length is what Africa's Talking reports when it ends (`duration_ms`); a
session whose end never came is billed as one unit, as the network bills at least that.
The price is the programme's current one: changing it re-prices past sessions in reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Programme, UssdSession
from service.models.enums import UssdBilling

SLICE_MS = 20_000
CENT = Decimal("0.0001")  # the precision prices are stored with


def units(billing: UssdBilling) -> Any:
    """The units one USSD session is billed, in SQL: 1, or the 20 s slices begun."""
    if billing is UssdBilling.session:
        return sa.literal(1)
    duration = col(UssdSession.duration_ms)
    # Integer division floors on both engines (`//` renders as `/` on integers).
    return sa.case(
        (func.coalesce(duration, 0) <= 0, 1), else_=(duration + (SLICE_MS - 1)) // SLICE_MS
    )


def units_of(billing: UssdBilling, duration_ms: int | None) -> int:
    """`units` for one session in Python: what a caller is told a dial costs."""
    if billing is UssdBilling.session or not duration_ms or duration_ms <= 0:
        return 1
    return -(-duration_ms // SLICE_MS)


@dataclass
class UssdCost:
    sessions: int = 0
    units: int = 0  # billed units: sessions, or 20 s slices
    cost: dict[str, Decimal] = field(default_factory=dict)  # per currency, as SmsFigures


async def ussd_cost(
    session: AsyncSession, programme: Programme, conditions: Sequence[Any]
) -> UssdCost:
    """The cost of the programme's USSD sessions matching `conditions`: one statement."""
    stmt = sa.select(func.count(), func.coalesce(func.sum(units(programme.ussd_billing)), 0))
    stmt = stmt.select_from(UssdSession)
    n, billed = (await session.execute(stmt.where(*conditions))).one()
    if not n:
        return UssdCost()
    amount = (Decimal(programme.ussd_price) * int(billed)).quantize(CENT)
    return UssdCost(int(n), int(billed), {programme.currency: amount})
