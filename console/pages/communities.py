"""Communities: the list a role covers, one community's members, join requests and meetings.

Every change goes through the domain's use cases (as the GraphQL mutations do) with
the viewer as actor; every id, from the URL or a form field, is checked against the
role's coverage and the programme first, and one outside them is simply not found.
"""

from __future__ import annotations

from math import ceil

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.pages import community_reads as reads
from console.pages.community_forms import shown
from service.domain.communities import (
    add_member,
    approve_membership,
    decline_membership,
    get_membership,
    remove_member,
)
from service.domain.errors import InvalidPhone, NotFound
from service.domain.people import find_by_phone
from service.domain.phones import mask_phone, normalise_phone
from service.models import Community, Membership, Person
from service.models.enums import MembershipStatus, Scope


def path_id(current: Page, name: str) -> int:
    value: int = current.request.path_params[name]
    return value


def form_id(form: FormData, name: str) -> int:
    """An id from a form field; anything else is as good as a missing id."""
    value = form.get(name)
    if not isinstance(value, str) or not value.strip().isdigit() or len(value) > 18:
        raise NotFound(f"no {name} given")
    return int(value)


def page_number(current: Page) -> int:
    value = current.request.query_params.get("page", "1")
    return max(1, min(int(value), 10_000)) if value.isdigit() else 1


def community_url(community: Community) -> str:
    return f"/communities/{community.id}"


@page()
async def community_list(current: Page) -> Response:
    query = current.request.query_params.get("q", "").strip()[:100]
    number = page_number(current)
    rows, total = await reads.community_page(
        current.session, current.viewer.coverage, query, number, current.now
    )
    return current.render(
        "communities.html",
        {
            "rows": rows,
            "total": total,
            "query": query,
            "page": number,
            "pages": max(1, ceil(total / reads.PAGE_SIZE)),
            **shown(current),
        },
    )


@page()
async def community_detail(current: Page) -> Response:
    community = await reads.covered_community(current, path_id(current, "community_id"))
    assert community.id is not None
    members = await reads.members_of(current.session, community.id)
    upcoming, recent = await reads.meetings_of(current.session, community.id, current.now)
    ids = [m.id for m in upcoming + recent if m.id is not None]
    figures = await reads.figures_of(current.session, community.id, ids)
    schools = await reads.schools_of(current.session, [community.id])
    return current.render(
        "community.html",
        {
            "community": community,
            "schools": schools.get(community.id, []),
            "members": [m for m in members if m.status is MembershipStatus.active],
            "requests": [m for m in members if m.status is MembershipStatus.pending],
            "upcoming": upcoming,
            "recent": recent,
            "figures": figures,
            **shown(current),
        },
    )


def _phone_of(raw: str, region: str) -> str | None:
    try:
        return normalise_phone(raw, region)
    except InvalidPhone:
        return None


async def _add_page(
    current: Page,
    community: Community,
    query: str,
    *,
    phone: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    assert community.id is not None
    found: list[reads.FoundPerson] = []
    if len(query) >= 2:
        programme = current.viewer.programme
        assert programme.id is not None
        found = await reads.find_people(
            current.session,
            programme.id,
            community.id,
            query,
            _phone_of(query, programme.phone_region),
        )
    # The search reaches the whole programme: numbers beyond the role's own people
    # stay masked, whatever its rights.
    whole = current.viewer.coverage.whole_programme
    return current.render(
        "community_add.html",
        {
            "community": community,
            "query": query,
            "found": found,
            "phone_of": (lambda p: current.viewer.phone(p)) if whole else mask_phone,
            "phone": phone,
            "error": error,
        },
        status_code=status_code,
    )


@page()
async def add_form(current: Page) -> Response:
    community = await reads.covered_community(current, path_id(current, "community_id"))
    query = current.request.query_params.get("q", "").strip()[:100]
    return await _add_page(current, community, query)


@page(scope=Scope.write)
async def add(current: Page) -> Response:
    community = await reads.covered_community(current, path_id(current, "community_id"))
    programme = current.viewer.programme
    assert community.id is not None and programme.id is not None
    form = await current.form()
    raw = str(form.get("phone", "")).strip()[:30]
    if "person_id" in form:
        person = await current.session.get(Person, form_id(form, "person_id"))
        if person is None or person.programme_id != programme.id:
            raise NotFound("no such person in this programme")
    else:
        phone = _phone_of(raw, programme.phone_region)
        if phone is None:
            error = current._("That is not a valid mobile number.")
            return await _add_page(current, community, "", phone=raw, error=error, status_code=422)
        found = await find_by_phone(current.session, programme.id, phone)
        if found is None:
            error = current._(
                "Nobody in this programme has the number %(phone)s. Add them to the roster "
                "first (People).",
                phone=phone,
            )
            return await _add_page(current, community, "", phone=raw, error=error, status_code=422)
        person = found
    assert person.id is not None
    current_membership = await get_membership(current.session, community.id, person.id)
    if current_membership is not None and current_membership.status is MembershipStatus.active:
        # Adding again would make a facilitator a plain member: nothing to do.
        notice = current._("%(name)s is already a member.", name=person.name)
        return current.redirect(community_url(community), notice=notice)
    await add_member(
        programme.id,
        community.id,
        person.id,
        session=current.session,
        actor=current.viewer.coverage.actor(),
        now=current.now,
    )
    notice = current._("%(name)s was added to the community.", name=person.name)
    return current.redirect(community_url(community), notice=notice)


@page(scope=Scope.write)
async def remove(current: Page) -> Response:
    community = await reads.covered_community(current, path_id(current, "community_id"))
    programme_id = current.viewer.coverage.programme_id
    assert community.id is not None
    form = await current.form()
    person_id = form_id(form, "person_id")
    membership = await remove_member(
        programme_id,
        community.id,
        person_id,
        session=current.session,
        actor=current.viewer.coverage.actor(),
        now=current.now,
    )
    person = await current.session.get(Person, membership.person_id)
    assert person is not None
    notice = current._("%(name)s was removed from the community.", name=person.name)
    if person_id == current.viewer.person.id and not current.viewer.coverage.whole_programme:
        return current.redirect("/communities", notice=notice)  # it may no longer be theirs
    return current.redirect(community_url(community), notice=notice)


@page(scope=Scope.write)
async def answer_request(current: Page) -> Response:
    community = await reads.covered_community(current, path_id(current, "community_id"))
    programme_id = current.viewer.coverage.programme_id
    form = await current.form()
    membership = await current.session.get(Membership, form_id(form, "membership_id"))
    if membership is None or membership.community_id != community.id:
        raise NotFound("no such request in this community")
    assert membership.id is not None
    person = await current.session.get(Person, membership.person_id)
    assert person is not None
    decision = form.get("decision")
    actor = current.viewer.coverage.actor()
    if decision == "approve":
        await approve_membership(programme_id, membership.id, session=current.session, actor=actor)
        notice = current._("%(name)s joined the community.", name=person.name)
    elif decision == "decline":
        await decline_membership(
            programme_id, membership.id, session=current.session, actor=actor, now=current.now
        )
        notice = current._("%(name)s's request was declined.", name=person.name)
    else:
        raise NotFound("no such decision")
    return current.redirect(community_url(community), notice=notice)


def routes() -> list[BaseRoute]:
    return [
        Route("/communities", community_list, methods=["GET"]),
        Route("/communities/{community_id:int}", community_detail, methods=["GET"]),
        Route("/communities/{community_id:int}/add", add_form, methods=["GET"]),
        Route("/communities/{community_id:int}/members", add, methods=["POST"]),
        Route("/communities/{community_id:int}/members/remove", remove, methods=["POST"]),
        Route("/communities/{community_id:int}/requests", answer_request, methods=["POST"]),
    ]
