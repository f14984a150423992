"""Data rights through GraphQL: `recordConsent`, `setLegalHold`, `erasePerson`,
`exportPerson`, and a programme's `retentionMonths`."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.domain.erasure import ERASED_NAME
from service.models import Person
from service.models.enums import Scope
from tests.service.api.conftest import Api, Two, issue_key

CONSENT = """mutation($p: ID!, $s: ConsentState!, $c: Channel) {
  recordConsent(personId: $p, state: $s, channel: $c) {
    __typename ... on PersonPayload { person { consent consentChannel optedOut
      consentHistory { state channel recordedBy } } }
    ... on Error { code message } } }"""
HOLD = """mutation($p: ID!, $h: Boolean!) { setLegalHold(personId: $p, hold: $h) {
    __typename ... on PersonPayload { person { legalHold } } ... on Error { code message } } }"""
ERASE = """mutation($p: ID!) { erasePerson(personId: $p) {
    __typename ... on ErasePersonPayload { person { name phone erasedAt } messages }
    ... on Error { code message } } }"""
EXPORT = "query($p: ID!) { exportPerson(personId: $p) }"


def gid(pk: int | None) -> str:
    return ids.encode("Person", pk)


async def test_a_write_key_records_consent_and_the_history_reads_back(
    api: Api, two: Two, session: AsyncSession
) -> None:
    person = two.a.members[0]
    writer = await issue_key(session, two.a.programme, Scope.read, Scope.write)

    given = await api.gql(CONSENT, {"p": gid(person.id), "s": "given", "c": "ussd"}, key=writer)
    withdrawn = await api.gql(CONSENT, {"p": gid(person.id), "s": "withdrawn"}, key=writer)

    assert given["recordConsent"]["person"]["consent"] == "given"
    after = withdrawn["recordConsent"]["person"]
    assert (after["consent"], after["consentChannel"], after["optedOut"]) == (
        "withdrawn", "api", True,
    )  # fmt: skip
    assert [(h["state"], h["channel"]) for h in after["consentHistory"]] == [
        ("given", "ussd"),
        ("withdrawn", "api"),
    ]
    assert all(h["recordedBy"].startswith("apikey:") for h in after["consentHistory"])
    refused = await api.gql(CONSENT, {"p": gid(person.id), "s": "unknown"}, key=writer)
    assert refused["recordConsent"]["__typename"] == "ValidationError"
    read_only = await api.gql(CONSENT, {"p": gid(person.id), "s": "given"}, key=two.reader_a)
    assert read_only["recordConsent"]["__typename"] == "NotAllowed"


async def test_erasure_waits_for_a_legal_hold_to_be_lifted(
    api: Api, two: Two, session: AsyncSession
) -> None:
    person = two.a.members[0]
    p = gid(person.id)

    held = await api.gql(HOLD, {"p": p, "h": True}, key=two.admin_a)
    assert held["setLegalHold"]["person"]["legalHold"] is True
    refused = await api.gql(ERASE, {"p": p}, key=two.admin_a)
    assert refused["erasePerson"]["__typename"] == "Conflict"
    assert refused["erasePerson"]["code"] == "legal_hold"
    assert "legal hold" in refused["erasePerson"]["message"]

    await api.gql(HOLD, {"p": p, "h": False}, key=two.admin_a)
    erased = (await api.gql(ERASE, {"p": p}, key=two.admin_a))["erasePerson"]
    assert erased["__typename"] == "ErasePersonPayload"
    assert (erased["person"]["name"], erased["person"]["phone"]) == (ERASED_NAME, None)
    assert erased["person"]["erasedAt"] is not None
    session.expunge_all()
    stored = await session.get(Person, person.id)
    assert stored is not None and stored.phone is None


async def test_erasure_and_holds_need_the_admin_scope_and_the_keys_own_programme(
    api: Api, two: Two, session: AsyncSession
) -> None:
    writer = await issue_key(session, two.a.programme, Scope.read, Scope.write)
    mine, theirs = gid(two.a.members[0].id), gid(two.b.members[0].id)

    async def outcome(query: str, variables: dict[str, object], key: str) -> str:
        data = await api.gql(query, variables, key=key)
        return str(next(iter(data.values()))["__typename"])

    assert await outcome(ERASE, {"p": mine}, writer) == "NotAllowed"
    assert await outcome(HOLD, {"p": mine, "h": True}, writer) == "NotAllowed"
    assert await outcome(ERASE, {"p": theirs}, two.admin_a) == "NotFound"
    session.expunge_all()
    other = await session.get(Person, two.b.members[0].id)
    assert other is not None and other.erased_at is None


async def test_an_admin_key_exports_a_person_as_json(
    api: Api, two: Two, session: AsyncSession
) -> None:
    person = two.a.members[0]

    exported = (await api.gql(EXPORT, {"p": gid(person.id)}, key=two.admin_a))["exportPerson"]

    assert exported["person"]["phone"] == person.phone
    assert [m["person_id"] for m in exported["memberships"]] == [person.id]
    assert (await api.gql(EXPORT, {"p": gid(two.b.members[0].id)}, key=two.admin_a)) == {
        "exportPerson": None
    }
    denied = await api.errors(EXPORT, {"p": gid(person.id)}, key=two.reader_a)
    assert denied == ["this API key lacks the 'admin' scope"]


async def test_the_retention_period_is_a_programme_setting(api: Api, two: Two) -> None:
    read = await api.gql("{ programme { retentionMonths } }", key=two.admin_a)
    assert read["programme"]["retentionMonths"] == 24

    changed = await api.gql(
        """mutation { updateProgramme(input: {retentionMonths: 12}) {
             ... on ProgrammePayload { programme { retentionMonths } } ... on Error { code } } }""",
        key=two.admin_a,
    )
    assert changed["updateProgramme"] == {"programme": {"retentionMonths": 12}}
    refused = await api.gql(
        """mutation { updateProgramme(input: {retentionMonths: 0}) {
             __typename ... on Error { code } } }""",
        key=two.admin_a,
    )
    assert refused["updateProgramme"]["__typename"] == "ValidationError"
