"""The roster back out: people.csv in the columns the import reads, so a programme can
edit it in a spreadsheet and import it again (every row then comes back unchanged)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.exports import cell
from service.domain.phones import mask_phone
from service.models import Community, Membership, Person, School
from service.models.enums import ConsentState, MembershipRole, MembershipStatus
from service.roster.columns import PEOPLE_COLUMNS

PAGE = 1_000
BOM = "\ufeff"  # a spreadsheet opens the file as UTF-8 only with it


async def people_csv(
    session: AsyncSession,
    people: Any,
    *,
    community_ids: frozenset[int] | None,
    pii: bool,
) -> str:
    """The people matching `people` (a condition on Person, e.g. what a console role covers)
    as people.csv, with a byte-order mark. Their communities are those in `community_ids`
    (None: all); phones are whole only with `pii`, masked otherwise (such a file cannot be
    imported back, which is as it should be for a role that may not see numbers)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(list(PEOPLE_COLUMNS))
    columns: tuple[Any, ...] = (
        col(Person.id), col(Person.name), col(Person.phone), col(Person.language),
        col(Person.roles), col(Person.subjects), col(Person.gender), col(Person.console_role),
        col(Person.reach), col(Person.consent),
        col(School.code).label("school"),
    )  # fmt: skip
    after = 0
    while True:
        stmt = (
            sa.select(*columns)
            .outerjoin(School, col(School.id) == col(Person.school_id))
            # Erased people are no roster's: importing them back would make someone new.
            .where(people, col(Person.erased_at).is_(None), col(Person.id) > after)
            .order_by(col(Person.id))
            .limit(PAGE)
        )
        rows = (await session.execute(stmt)).all()
        if not rows:
            break
        after = rows[-1].id
        groups = await _groups(session, [r.id for r in rows], community_ids)
        for r in rows:
            member, leads = groups.get(r.id, ([], []))
            writer.writerow(
                [
                    cell(r.name),
                    (r.phone if pii else mask_phone(r.phone)) or "",
                    r.language or "",
                    cell(r.school),
                    ";".join(r.roles or []),
                    cell(";".join(r.subjects or [])),
                    r.gender or "",
                    cell(";".join(member)),
                    cell(";".join(leads)),
                    r.console_role or "",
                    r.reach,
                    "" if r.consent == ConsentState.unknown else r.consent,
                ]
            )
    return buffer.getvalue()


async def _groups(
    session: AsyncSession, ids: list[int], community_ids: frozenset[int] | None
) -> dict[int, tuple[list[str], list[str]]]:
    """Per person: the codes of the communities they are a member of, and facilitate."""
    stmt = (
        sa.select(col(Membership.person_id), col(Membership.role), col(Community.code))
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(
            col(Membership.person_id).in_(ids),
            col(Membership.status) == MembershipStatus.active,
        )
        .order_by(col(Community.code))
    )
    if community_ids is not None:
        stmt = stmt.where(col(Membership.community_id).in_(sorted(community_ids)))
    found: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for person_id, role, code in (await session.execute(stmt)).all():
        member, leads = found[person_id]
        (leads if role == MembershipRole.facilitator else member).append(code)
    return found
