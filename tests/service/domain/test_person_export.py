"""A person's export: every row about them as JSON, no secret and nobody else's data."""

from __future__ import annotations

import json

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.erasure import erase_person
from service.domain.person_export import FORMAT, export_person
from tests import factories as f
from tests.service.domain.test_erasure import ADMIN, NAME, NEEDLES, PHONE, scene


async def test_the_export_holds_every_row_about_the_person(session: AsyncSession) -> None:
    s = await scene(session)
    gid = s.grace.id or 0

    exported = await export_person(s.w.programme, gid, session=session)
    text = json.dumps(exported)  # plain JSON all the way down

    assert exported["format"] == FORMAT
    assert (exported["person"]["name"], exported["person"]["phone"]) == (NAME, PHONE)
    assert [c["state"] for c in exported["consent_history"]] == ["given"]
    assert [m["community_code"] for m in exported["memberships"]] == [s.w.community.code]
    assert {a["rsvp"] for a in exported["attendance"]} >= {"no"}
    [response] = exported["survey_responses"]
    assert response["answers"][-1]["value"] == "I am Grace, call me on 0712999001"
    kinds = {(m["direction"], m["kind"]) for m in exported["messages"]}
    assert ("in", "inbound") in kinds and ("out", "remind_now") in kinds
    assert "forward" not in {m["kind"] for m in exported["messages"]}  # the coach's message
    # Both dials: the one made before she was known is found by her number.
    assert [d["person_id"] for d in exported["ussd_sessions"]] == [gid, None]
    actions = {e["action"] for e in exported["audit_entries"]}
    assert {"person.create", "person.update", "person.consent", "attendance.rsvp"} <= actions
    assert len(exported["console_sessions"]) == 1 and len(exported["sign_in_codes"]) == 1
    # Secrets stay home, and so do colleagues.
    for secret in ("token_hash", "csrf_token", "code_hash"):
        assert secret not in text
    for other in s.others:
        assert other.name not in text
    assert "Other Teacher" not in text


async def test_after_erasure_the_export_names_nobody(session: AsyncSession) -> None:
    s = await scene(session)
    gid = s.grace.id or 0
    await erase_person(s.w.programme, gid, session=session, actor=ADMIN, now=f.now())
    await session.commit()

    text = json.dumps(await export_person(s.w.programme, gid, session=session)).lower()

    assert [n for n in NEEDLES if n.lower() in text] == []
    assert "person.erase" in text
