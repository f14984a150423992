"""People: search the people a role covers, see one, and (programme admins) set who may
sign in to the console. The roster import and export live in `console.pages.roster`."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.i18n import NAMES, _
from service.domain.console_access import set_console_role, visible_person
from service.domain.errors import InvalidPhone, NotAllowed, ValidationError
from service.domain.phones import normalise_phone
from service.domain.reach import opted_in, set_reach
from service.models import Community, Membership, Person, School
from service.models.enums import ConsentState, ConsoleRole, Gender, MembershipStatus, Reach, Scope

PAGE_SIZE = 50
MAX_QUERY = 100
# Something a person would type for a number: digits, maybe +, spaces, dashes, brackets.
_PHONE_LIKE = re.compile(r"\+?[\d\s().-]+")

ROLE_LABELS = {
    "teacher": _("Teacher"),
    "subject_lead": _("Subject lead"),
    "head_teacher": _("Head teacher"),
    "deputy_head": _("Deputy head teacher"),
    "coach": _("Coach"),
    "sector_facilitator": _("Sector learning facilitator"),
    "programme_staff": _("Programme staff"),
}
CONSOLE_LABELS = {
    ConsoleRole.programme_admin: _("Programme administrator"),
    ConsoleRole.programme_staff: _("Programme staff"),
    ConsoleRole.school_leader: _("School leader"),
    ConsoleRole.facilitator: _("Facilitator"),
}
CONSENT_LABELS = {
    ConsentState.given: _("Consent given"),
    ConsentState.refused: _("Consent refused"),
    ConsentState.withdrawn: _("Consent withdrawn"),
    ConsentState.unknown: _("Consent not asked yet"),
}
GENDER_LABELS = {
    Gender.female: _("Female"),
    Gender.male: _("Male"),
    Gender.other: _("Other"),
    Gender.undisclosed: _("Not given"),
}
MEMBERSHIP_LABELS = {
    "member": _("Member"),
    "facilitator": _("Facilitator"),
    MembershipStatus.pending: _("Waiting for approval"),
    MembershipStatus.active: _("Active"),
    MembershipStatus.left: _("Left"),
}


def labels() -> dict[str, Any]:
    """The vocabularies a people template shows, as msgids it translates."""
    return {
        "role_labels": ROLE_LABELS,
        "console_labels": {k.value: v for k, v in CONSOLE_LABELS.items()},
        "consent_labels": {k.value: v for k, v in CONSENT_LABELS.items()},
        "gender_labels": {k.value: v for k, v in GENDER_LABELS.items()},
        "membership_labels": {str(k): v for k, v in MEMBERSHIP_LABELS.items()},
        "language_names": {k.value: v for k, v in NAMES.items()},
    }


@dataclass
class PersonLine:
    id: int
    name: str
    phone: str | None
    school: str | None
    roles: list[str]
    language: str
    consent: str
    opted_out: bool
    console_role: str | None
    communities: list[str] = field(default_factory=list)


def looks_like_phone(text: str) -> bool:
    return bool(_PHONE_LIKE.fullmatch(text)) and sum(ch.isdigit() for ch in text) >= 6


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(current: Page, query: str) -> tuple[Any, str | None]:
    """The condition on Person for what was typed, and a hint when it cannot match."""
    viewer = current.viewer
    condition = viewer.coverage.people()
    if not query:
        return condition, None
    if looks_like_phone(query):
        # A number matches only whole, and only for roles that see whole numbers: part
        # of one would let a role that sees them masked find them out digit by digit.
        if not viewer.has(Scope.read_pii):
            return sa.false(), _(
                "Your role sees phone numbers masked, so it cannot search by them. Search by name."
            )
        try:
            number = normalise_phone(query, viewer.programme.phone_region)
        except InvalidPhone:
            return sa.false(), _("Type the whole phone number to search by it.")
        return condition & (col(Person.phone) == number), None
    name = func.lower(col(Person.name)).like(_like(query), escape="\\")
    return condition & name, None


def _number(value: str | None) -> int:
    try:
        return max(1, min(int(value or "1"), 100_000))
    except ValueError:
        return 1


async def _communities(
    current: Page, ids: list[int], statuses: tuple[MembershipStatus, ...]
) -> dict[int, list[tuple[Any, ...]]]:
    """Per person: (community id, code, name, role, status) of their memberships in the
    communities the viewer's role covers: one query for the whole page."""
    if not ids:
        return {}
    stmt = (
        sa.select(
            col(Membership.person_id),
            col(Community.id),
            col(Community.code),
            col(Community.name),
            col(Membership.role),
            col(Membership.status),
        )
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(
            col(Membership.person_id).in_(ids),
            col(Membership.status).in_(statuses),
            col(Community.programme_id) == current.viewer.programme.id,
        )
        .order_by(col(Community.code))
    )
    covered = current.viewer.coverage.community_ids
    if covered is not None:
        stmt = stmt.where(col(Community.id).in_(sorted(covered)))
    found: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for person_id, community_id, code, name, role, status in await current.session.execute(stmt):
        found[person_id].append((community_id, code, name, str(role), str(status)))
    return found


@page()
async def people(current: Page) -> Response:
    params = current.request.query_params
    query = (params.get("q") or "").strip()[:MAX_QUERY]
    condition, hint = _search(current, query)
    total = (
        await current.session.execute(sa.select(func.count()).select_from(Person).where(condition))
    ).scalar_one()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    number = min(_number(params.get("page")), pages)
    stmt: Any = (
        sa.select(
            col(Person.id),
            col(Person.name),
            col(Person.phone),
            col(Person.roles),
            col(Person.language),
            col(Person.consent),
            col(Person.opted_out_at),
            col(Person.console_role),
            col(School.name).label("school"),
        )
        .outerjoin(School, col(School.id) == col(Person.school_id))
        .where(condition)
        .order_by(col(Person.name), col(Person.id))
        .offset((number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    rows = (await current.session.execute(stmt)).all()
    groups = await _communities(
        current, [r.id for r in rows], (MembershipStatus.active, MembershipStatus.pending)
    )
    lines = [
        PersonLine(
            id=r.id,
            name=r.name,
            phone=current.viewer.phone(r.phone),
            school=r.school,
            roles=list(r.roles or []),
            language=str(r.language),
            consent=str(r.consent),
            opted_out=r.opted_out_at is not None,
            console_role=str(r.console_role) if r.console_role else None,
            communities=[g[1] for g in groups.get(r.id, [])],
        )
        for r in rows
    ]
    coverage = current.viewer.coverage
    return current.render(
        "people.html",
        {
            "query": query,
            "hint": current._(hint) if hint else None,
            "people": lines,
            "total": total,
            "page": number,
            "pages": pages,
            "first": (number - 1) * PAGE_SIZE + 1,
            "last": (number - 1) * PAGE_SIZE + len(lines),
            "may_import": coverage.whole_programme and coverage.has(Scope.write),
            **labels(),
        },
    )


def _person_id(current: Page) -> int:
    value = current.request.path_params["person_id"]
    assert isinstance(value, int)
    return value


@page()
async def person(current: Page) -> Response:
    found = await visible_person(current.session, current.viewer.coverage, _person_id(current))
    return await _detail(current, found)


async def _detail(
    current: Page, found: Person, *, error: str | None = None, channel_error: str | None = None
) -> Response:
    assert found.id is not None
    school = await current.session.get(School, found.school_id) if found.school_id else None
    memberships = (await _communities(current, [found.id], tuple(MembershipStatus))).get(
        found.id, []
    )
    viewer = current.viewer
    return current.render(
        "people_detail.html",
        {
            "person": found,
            "phone": viewer.phone(found.phone),
            "school": school,
            "memberships": memberships,
            "timezone": viewer.programme.timezone,
            "may_grant": viewer.has(Scope.admin) and found.id != viewer.person.id,
            "console_roles": [r.value for r in ConsoleRole],
            "error": error,
            "whatsapp_opted_in": opted_in(found),
            "may_set_channel": _may_edit_people(current),
            "reaches": [r.value for r in Reach],
            "channel_error": channel_error,
            **labels(),
        },
        status_code=422 if error or channel_error else 200,
    )


def _may_edit_people(current: Page) -> bool:
    """Who may change a person's record: whoever may import the programme's roster."""
    coverage = current.viewer.coverage
    return coverage.whole_programme and coverage.has(Scope.write)


@page(scope=Scope.admin)
async def set_role(current: Page) -> Response:
    """A programme admin gives, changes or takes away a person's console access."""
    viewer = current.viewer
    found = await visible_person(current.session, viewer.coverage, _person_id(current))
    form = await current.form()
    raw = form.get("role")
    if not isinstance(raw, str):
        raise ValidationError("no console role given", field="role")
    try:
        role = ConsoleRole(raw) if raw else None
    except ValueError:
        raise ValidationError(f"unknown console role {raw!r}", field="role") from None
    if found.id == viewer.person.id:
        raise NotAllowed(
            "you cannot change your own console access; another programme administrator can"
        )
    if role is not None and found.phone is None:
        return await _detail(
            current, found, error=current._("Console access needs a phone number to sign in with.")
        )
    changed = await set_console_role(
        current.session, found, role, actor=viewer.coverage.actor(), now=current.now
    )
    assert found.id is not None
    if not changed:
        return current.redirect(f"/people/{found.id}", notice=current._("Nothing changed."))
    if role is None:
        notice = current._("%(name)s can no longer sign in to the console.", name=found.name)
    else:
        notice = current._(
            "%(name)s can now sign in to the console as %(role)s.",
            name=found.name,
            role=current._(CONSOLE_LABELS[role]),
        )
    return current.redirect(f"/people/{found.id}", notice=notice)


REACH_NAMES = {Reach.sms: "SMS", Reach.whatsapp: "WhatsApp"}  # names in every language


@page(scope=Scope.write, whole_programme=True)  # as `_may_edit_people`
async def set_channel(current: Page) -> Response:
    """Staff set how messages reach a person. WhatsApp set here is not the person's
    opt-in: they get SMS until they choose WhatsApp themselves (USSD, or WHATSAPP)."""
    viewer = current.viewer
    found = await visible_person(current.session, viewer.coverage, _person_id(current))
    form = await current.form()
    raw = form.get("reach")
    try:
        reach = Reach(raw if isinstance(raw, str) else "")
    except ValueError:
        raise ValidationError(f"unknown channel {raw!r}", field="reach") from None
    assert found.id is not None
    if reach is Reach.whatsapp and found.phone is None:
        message = current._("A person with no phone number cannot be reached on WhatsApp.")
        return await _detail(current, found, channel_error=message)
    before = found.reach
    await set_reach(
        viewer.programme, found.id, reach, session=current.session,
        actor=viewer.coverage.actor(), now=current.now, opt_in=False,
    )  # fmt: skip
    if before == reach:
        return current.redirect(f"/people/{found.id}", notice=current._("Nothing changed."))
    notice = current._(
        "%(name)s now gets messages by %(channel)s.", name=found.name, channel=REACH_NAMES[reach]
    )
    return current.redirect(f"/people/{found.id}", notice=notice)


def routes() -> list[BaseRoute]:
    return [
        Route("/people", people, methods=["GET"]),
        Route("/people/{person_id:int}", person, methods=["GET"]),
        Route("/people/{person_id:int}/console", set_role, methods=["POST"]),
        Route("/people/{person_id:int}/channel", set_channel, methods=["POST"]),
    ]
