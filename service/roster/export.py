"""The roster back out, in the import's own files and columns: schools.csv,
communities.csv and people.csv. Imported into the same programme they change nothing;
imported into an empty one (schools, then communities, then people) they make the same
roster again: people, schools, communities, active memberships and facilitators, roles,
languages, channels, console access and external ids.

Not in them, as no roster carries it: pending and past memberships, consent and opt-outs,
a community's join code and own reminder times, people whose name is not known yet (a
number a facilitator invited, until they answer).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.exports import cell
from service.domain.people import UNKNOWN_NAME
from service.domain.phones import mask_phone
from service.models import Community, CommunitySchool, Membership, Person, School
from service.models.enums import ConsentState, MembershipRole, MembershipStatus
from service.roster.columns import COLUMNS, COMMUNITY_COLUMNS, PEOPLE_COLUMNS, SCHOOL_COLUMNS
from service.roster.report import ImportKind

PAGE = 1_000
BOM = "\ufeff"  # a spreadsheet opens the file as UTF-8 only with it


def _writer(columns: Iterable[str]) -> tuple[io.StringIO, Any]:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(list(columns))
    return buffer, writer


def _list(values: Iterable[str] | None) -> str:
    return cell(";".join(values or []))


async def schools_csv(session: AsyncSession, programme_id: int) -> str:
    """The programme's schools as schools.csv, with a byte-order mark."""
    buffer, writer = _writer(SCHOOL_COLUMNS)
    stmt = (
        sa.select(
            col(School.code), col(School.name), col(School.district), col(School.sector),
            col(School.external_id),
        )
        .where(col(School.programme_id) == programme_id)
        .order_by(col(School.code))
    )  # fmt: skip
    for r in (await session.execute(stmt)).all():
        writer.writerow(
            [cell(r.code), cell(r.name), cell(r.district), cell(r.sector), cell(r.external_id)]
        )
    return buffer.getvalue()


async def communities_csv(
    session: AsyncSession, programme_id: int, *, community_ids: frozenset[int] | None = None
) -> str:
    """The programme's communities (those in `community_ids`; None: all) as communities.csv,
    with a byte-order mark."""
    buffer, writer = _writer(COMMUNITY_COLUMNS)
    stmt = (
        sa.select(
            col(Community.id), col(Community.code), col(Community.name), col(Community.kind),
            col(Community.subjects), col(Community.meetings_per_term),
        )
        .where(col(Community.programme_id) == programme_id)
        .order_by(col(Community.code))
    )  # fmt: skip
    if community_ids is not None:
        stmt = stmt.where(col(Community.id).in_(sorted(community_ids)))
    rows = (await session.execute(stmt)).all()
    schools: dict[int, list[str]] = defaultdict(list)
    if rows:
        at = (
            sa.select(col(CommunitySchool.community_id), col(School.code))
            .join(School, col(School.id) == col(CommunitySchool.school_id))
            .where(col(School.programme_id) == programme_id)
            .order_by(col(School.code))
        )
        for community_id, code in (await session.execute(at)).all():
            schools[community_id].append(code)
    for r in rows:
        writer.writerow(
            [
                cell(r.code), cell(r.name), r.kind, _list(r.subjects), _list(schools[r.id]),
                r.meetings_per_term,
            ]
        )  # fmt: skip
    return buffer.getvalue()


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
    buffer, writer = _writer(PEOPLE_COLUMNS)
    columns: tuple[Any, ...] = (
        col(Person.id), col(Person.name), col(Person.phone), col(Person.language),
        col(Person.roles), col(Person.subjects), col(Person.gender), col(Person.console_role),
        col(Person.reach), col(Person.external_id), col(Person.consent),
        col(School.code).label("school"),
    )  # fmt: skip
    after = 0
    while True:
        stmt = (
            sa.select(*columns)
            .outerjoin(School, col(School.id) == col(Person.school_id))
            # Erased people are no roster's: importing them back would make someone new.
            .where(
                people,
                col(Person.erased_at).is_(None),
                col(Person.id) > after,
                col(Person.name) != UNKNOWN_NAME,
            )
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
                    _list(r.subjects),
                    r.gender or "",
                    _list(member),
                    _list(leads),
                    r.console_role or "",
                    r.reach,
                    cell(r.external_id),
                    "" if r.consent == ConsentState.unknown else r.consent,
                ]
            )
    return buffer.getvalue()


async def roster_csv(
    session: AsyncSession, programme_id: int, kind: ImportKind, *, pii: bool
) -> str:
    """One of the three files for the whole programme."""
    if kind is ImportKind.schools:
        return await schools_csv(session, programme_id)
    if kind is ImportKind.communities:
        return await communities_csv(session, programme_id)
    mine = col(Person.programme_id) == programme_id
    return await people_csv(session, mine, community_ids=None, pii=pii)


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


__all__ = ["BOM", "COLUMNS", "communities_csv", "people_csv", "roster_csv", "schools_csv"]
