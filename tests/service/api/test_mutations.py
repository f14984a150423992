"""Every mutation over HTTP: what it returns, what it stores, and its typed failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.models import (
    ApiKey,
    Attendance,
    AuditEntry,
    Community,
    Meeting,
    Membership,
    Person,
    Programme,
    School,
)
from service.models.enums import MeetingStatus, MembershipStatus, Presence, Rsvp
from tests.service.api.conftest import Api, Two

RESULT = "__typename ... on Error { code message }"


def gid(type_name: str, pk: int | None) -> str:
    return ids.encode(type_name, pk)


async def fresh(session: AsyncSession, model: Any, pk: int | None) -> Any:
    session.expunge_all()
    return await session.get(model, pk)


async def test_update_programme_changes_only_what_is_given(
    api: Api, two: Two, session: AsyncSession
) -> None:
    query = """mutation($i: ProgrammeSettingsInput!) { updateProgramme(input: $i) {
        __typename ... on ProgrammePayload { programme { reminderOffsetsHours smsPrice name } }
        ... on ValidationError { fields { field message } } } }"""
    data = await api.gql(
        query, {"i": {"reminderOffsetsHours": [2, 24], "smsPrice": "0.85"}}, key=two.admin_a
    )
    assert data["updateProgramme"]["programme"] == {
        "reminderOffsetsHours": [24, 2],
        "smsPrice": "0.8500",
        "name": two.a.programme.name,
    }
    bad = await api.gql(query, {"i": {"timezone": "Mars/Olympus"}}, key=two.admin_a)
    assert bad["updateProgramme"]["__typename"] == "ValidationError"
    assert bad["updateProgramme"]["fields"] == [
        {"field": "timezone", "message": "unknown time zone 'Mars/Olympus' (e.g. Africa/Nairobi)"}
    ]
    programme = await fresh(session, Programme, two.a.pid)
    assert programme.timezone == "Africa/Nairobi" and programme.reminder_offsets_h == [24, 2]


async def test_an_admin_moves_the_school_leaders_digest(
    api: Api, two: Two, session: AsyncSession
) -> None:
    query = """mutation($i: ProgrammeSettingsInput!) { updateProgramme(input: $i) {
        __typename ... on ProgrammePayload { programme { digestDay digestTime } } } }"""
    before = await fresh(session, Programme, two.a.pid)
    assert (before.digest_day.value, f"{before.digest_time:%H:%M}") == ("monday", "07:00")
    await session.rollback()  # end this read: the API writes on its own connection
    data = await api.gql(
        query, {"i": {"digestDay": "wednesday", "digestTime": "06:45:00"}}, key=two.admin_a
    )
    assert data["updateProgramme"]["programme"] == {
        "digestDay": "wednesday",
        "digestTime": "06:45:00",
    }
    after = await fresh(session, Programme, two.a.pid)
    assert (after.digest_day.value, f"{after.digest_time:%H:%M}") == ("wednesday", "06:45")


async def test_an_admin_sets_and_removes_the_programmes_short_code(
    api: Api, two: Two, session: AsyncSession
) -> None:
    query = """mutation($i: ProgrammeSettingsInput!) { updateProgramme(input: $i) {
        __typename ... on ProgrammePayload { programme { shortCode senderId } }
        ... on ValidationError { fields { field message } } } }"""
    data = await api.gql(query, {"i": {"shortCode": "20880"}}, key=two.admin_a)
    assert data["updateProgramme"]["programme"]["shortCode"] == "20880"
    assert (await fresh(session, Programme, two.a.pid)).short_code == "20880"
    bad = await api.gql(query, {"i": {"shortCode": "CoPKenya"}}, key=two.admin_a)
    assert bad["updateProgramme"]["fields"] == [
        {"field": "shortCode", "message": "short code 'CoPKenya' must be 3-8 digits, e.g. 20880"}
    ]
    cleared = await api.gql(query, {"i": {"shortCode": None}}, key=two.admin_a)
    assert cleared["updateProgramme"]["programme"]["shortCode"] is None
    await session.rollback()  # end the read above: SQLite would keep showing its snapshot
    assert (await fresh(session, Programme, two.a.pid)).short_code is None


async def test_only_an_admin_changes_programme_settings(
    api: Api, two: Two, session: AsyncSession
) -> None:
    from service.models.enums import Scope
    from tests.service.api.conftest import issue_key

    writer = await issue_key(session, two.a.programme, Scope.read, Scope.write)
    data = await api.gql(
        f'mutation {{ updateProgramme(input: {{name: "X Y"}}) {{ {RESULT} }} }}', key=writer
    )
    assert data["updateProgramme"]["__typename"] == "NotAllowed"


async def test_create_term_then_schools_and_people(
    api: Api, two: Two, session: AsyncSession
) -> None:
    term = await api.gql(
        """mutation { createTerm(input: {name: "Term 1 2027", startsOn: "2027-01-04", endsOn: "2027-03-26"}) {
        ... on TermPayload { term { name startsOn } } } }""",
        key=two.admin_a,
    )
    assert term["createTerm"]["term"] == {"name": "Term 1 2027", "startsOn": "2027-01-04"}
    school = await api.gql(
        """mutation { createSchool(input: {code: "KSM-77", name: "Kondele Primary", district: "Kisumu"}) {
        ... on SchoolPayload { school { id code } } } }""",
        key=two.admin_a,
    )
    school_id = school["createSchool"]["school"]["id"]
    renamed = await api.gql(
        'mutation($id: ID!) { updateSchool(id: $id, input: {name: "Kondele Primary School"}) '
        "{ ... on SchoolPayload { school { name district } } } }",
        {"id": school_id},
        key=two.admin_a,
    )
    assert renamed["updateSchool"]["school"] == {
        "name": "Kondele Primary School",
        "district": "Kisumu",
    }
    person = await api.gql(
        """mutation($s: ID!) { createPerson(input: {name: "Atieno Were", phone: "0722 111 222",
        schoolId: $s, roles: [teacher], subjects: ["English"], gender: female}) {
        ... on PersonPayload { person { id phone language school { code } } } } }""",
        {"s": school_id},
        key=two.admin_a,
    )
    created = person["createPerson"]["person"]
    assert created["phone"] == "+254722111222" and created["language"] == "sw"
    assert created["school"] == {"code": "KSM-77"}
    moved = await api.gql(
        "mutation($id: ID!) { updatePerson(id: $id, input: {language: en, schoolId: null}) "
        "{ ... on PersonPayload { person { language school { code } phone } } } }",
        {"id": created["id"]},
        key=two.admin_a,
    )
    assert moved["updatePerson"]["person"] == {
        "language": "en",
        "school": None,
        "phone": "+254722111222",
    }
    stored = (await session.exec(select(Person).where(Person.phone == "+254722111222"))).one()
    assert stored.school_id is None and stored.language == "en"


async def test_a_duplicate_phone_is_a_conflict_and_a_bad_phone_a_validation_error(
    api: Api, two: Two
) -> None:
    query = f"""mutation($p: String) {{ createPerson(input: {{name: "Copy Cat", phone: $p}}) {{
        {RESULT} ... on Conflict {{ field }} ... on ValidationError {{ fields {{ field }} }} }} }}"""
    dup = (await api.gql(query, {"p": two.a.members[0].phone}, key=two.admin_a))["createPerson"]
    assert (dup["__typename"], dup["code"], dup["field"]) == (
        "Conflict",
        "duplicate_phone",
        "phone",
    )
    bad = (await api.gql(query, {"p": "0712"}, key=two.admin_a))["createPerson"]
    assert (bad["__typename"], bad["code"], bad["fields"]) == (
        "ValidationError",
        "invalid_phone",
        [{"field": "phone"}],
    )


async def test_communities_and_their_members(api: Api, two: Two, session: AsyncSession) -> None:
    made = await api.gql(
        """mutation($s: ID!) { createCommunity(input: {code: "ENG-1", name: "English CoP", kind: school,
        subjects: ["English"], schoolIds: [$s]}) { ... on CommunityPayload { community { id joinCode schools { code } } } } }""",
        {"s": gid("School", two.a.school.id)},
        key=two.admin_a,
    )
    community = made["createCommunity"]["community"]
    assert len(community["joinCode"]) == 6 and community["schools"] == [{"code": "SCH-1"}]
    updated = await api.gql(
        'mutation($id: ID!) { updateCommunity(id: $id, input: {name: "English Teachers CoP", '
        "meetingsPerTerm: 4}) { ... on CommunityPayload { community { name meetingsPerTerm code } } } }",
        {"id": community["id"]},
        key=two.admin_a,
    )
    assert updated["updateCommunity"]["community"] == {
        "name": "English Teachers CoP",
        "meetingsPerTerm": 4,
        "code": "ENG-1",
    }
    member = {"c": community["id"], "p": gid("Person", two.a.members[0].id)}
    added = await api.gql(
        "mutation($c: ID!, $p: ID!) { addMember(communityId: $c, personId: $p, role: facilitator) "
        "{ ... on MembershipPayload { membership { role status person { name } } } } }",
        member,
        key=two.admin_a,
    )
    assert added["addMember"]["membership"] == {
        "role": "facilitator",
        "status": "active",
        "person": {"name": two.a.members[0].name},
    }
    removed = await api.gql(
        "mutation($c: ID!, $p: ID!) { removeMember(communityId: $c, personId: $p) "
        "{ ... on MembershipPayload { membership { status leftAt } } } }",
        member,
        key=two.admin_a,
    )
    assert removed["removeMember"]["membership"]["status"] == "left"
    stored = (
        await session.exec(select(Membership).where(Membership.person_id == two.a.members[0].id))
    ).all()
    assert sorted(m.status for m in stored) == [MembershipStatus.active, MembershipStatus.left]
    assert (
        await session.exec(select(Community).where(Community.code == "ENG-1"))
    ).one().meetings_per_term == 4


SCHEDULE = f"""mutation($i: ScheduleMeetingInput!) {{ scheduleMeeting(input: $i) {{ {RESULT}
    ... on MeetingPayload {{ meeting {{ id code startsAt endsAt modality }} }} }} }}"""


async def test_schedule_a_meeting_and_the_rules_that_refuse_one(api: Api, two: Two) -> None:
    start = datetime(2031, 5, 6, 14, 0, tzinfo=UTC)
    base = {
        "communityId": gid("Community", two.a.community.id),
        "modality": "hybrid",
        "venue": "Hall",
    }
    ok = await api.gql(
        SCHEDULE, {"i": base | {"startsAt": "2031-05-06T17:00:00+03:00"}}, key=two.admin_a
    )
    meeting = ok["scheduleMeeting"]["meeting"]
    assert (
        meeting["startsAt"] == start.isoformat()
        and meeting["endsAt"] == (start + timedelta(minutes=90)).isoformat()
    )
    past = await api.gql(
        SCHEDULE, {"i": base | {"startsAt": "2020-01-01T10:00:00+03:00"}}, key=two.admin_a
    )
    assert past["scheduleMeeting"]["__typename"] == "MeetingInPast"
    clash = await api.gql(
        SCHEDULE, {"i": base | {"startsAt": "2031-05-06T17:30:00+03:00"}}, key=two.admin_a
    )
    assert clash["scheduleMeeting"]["__typename"] == "MeetingClash"
    naive = await api.gql(
        SCHEDULE, {"i": base | {"startsAt": "2031-05-07T17:00:00"}}, key=two.admin_a
    )
    assert naive["scheduleMeeting"]["__typename"] == "ValidationError"
    assert "offset" in naive["scheduleMeeting"]["message"]


async def test_schedule_a_terms_series_on_tuesdays_at_two(
    api: Api, two: Two, session: AsyncSession
) -> None:
    term = await api.gql(
        'mutation { createTerm(input: {name: "T2", startsOn: "2031-01-06", endsOn: "2031-03-28"}) '
        "{ ... on TermPayload { term { id } } } }",
        key=two.admin_a,
    )
    query = f"""mutation($i: ScheduleTermMeetingsInput!) {{ scheduleTermMeetings(input: $i) {{ {RESULT}
        ... on MeetingsPayload {{ meetings {{ startsAtLocal term {{ name }} }} }}
        ... on NotEnoughDates {{ available requested }} }} }}"""
    series = {
        "communityId": gid("Community", two.a.community.id),
        "termId": term["createTerm"]["term"]["id"],
        "weekday": 1,
        "localTime": "14:00",
        "count": 3,
    }
    data = (await api.gql(query, {"i": series}, key=two.admin_a))["scheduleTermMeetings"]
    assert [m["startsAtLocal"] for m in data["meetings"]] == [
        "2031-01-21T14:00:00+03:00",
        "2031-02-18T14:00:00+03:00",
        "2031-03-18T14:00:00+03:00",
    ]
    too_many = await api.gql(query, {"i": series | {"count": 20, "weekday": 2}}, key=two.admin_a)
    assert too_many["scheduleTermMeetings"] == {
        "__typename": "NotEnoughDates",
        "code": "not_enough_dates",
        "message": "only 12 suitable day(s) left in the term for 20 meeting(s)",
        "available": 12,
        "requested": 20,
    }
    stored = (await session.exec(select(Meeting).where(Meeting.term_id != None))).all()  # noqa: E711
    assert len(stored) == 3


async def test_a_terms_series_skips_its_closed_days(
    api: Api, two: Two, session: AsyncSession
) -> None:
    term = await api.gql(
        'mutation { createTerm(input: {name: "T3", startsOn: "2031-01-06", endsOn: "2031-03-28"}) '
        "{ ... on TermPayload { term { id } } } }",
        key=two.admin_a,
    )
    query = f"""mutation($i: ScheduleTermMeetingsInput!) {{ scheduleTermMeetings(input: $i) {{ {RESULT}
        ... on MeetingsPayload {{ meetings {{ startsAtLocal }} }} }} }}"""
    series = {
        "communityId": gid("Community", two.a.community.id),
        "termId": term["createTerm"]["term"]["id"],
        "weekday": 1,
        "localTime": "14:00",
        "count": 3,
        "closedDays": ["2031-01-21", "2031-02-18"],
    }
    data = (await api.gql(query, {"i": series}, key=two.admin_a))["scheduleTermMeetings"]
    assert [m["startsAtLocal"][:10] for m in data["meetings"]] == [
        "2031-01-14",
        "2031-02-25",
        "2031-03-18",
    ]


async def test_update_a_meetings_agenda_and_venue(
    api: Api, two: Two, session: AsyncSession
) -> None:
    query = f"""mutation($id: ID!, $i: UpdateMeetingInput!) {{ updateMeeting(id: $id, input: $i) {{
        {RESULT} ... on MeetingPayload {{ meeting {{ agenda venue modality }} }} }} }}"""
    meeting_id = gid("Meeting", two.a.meeting.id)
    data = await api.gql(
        query, {"id": meeting_id, "i": {"agenda": "Toolkit 2: questioning"}}, key=two.admin_a
    )
    assert data["updateMeeting"]["meeting"] == {
        "agenda": "Toolkit 2: questioning",
        "venue": "Staff room",
        "modality": "in_person",
    }
    cleared = await api.gql(query, {"id": meeting_id, "i": {"venue": None}}, key=two.admin_a)
    assert cleared["updateMeeting"]["meeting"]["venue"] is None
    theirs = await api.gql(
        query, {"id": gid("Meeting", two.b.meeting.id), "i": {"agenda": "x"}}, key=two.admin_a
    )
    assert theirs["updateMeeting"]["__typename"] == "NotFound"
    stored = await fresh(session, Meeting, two.a.meeting.id)
    assert stored.agenda == "Toolkit 2: questioning" and stored.venue is None


async def test_move_and_cancel_a_meeting(api: Api, two: Two, session: AsyncSession) -> None:
    meeting_id = gid("Meeting", two.a.meeting.id)
    new_start = (two.a.meeting.starts_at + timedelta(days=3)).isoformat()
    moved = await api.gql(
        "mutation($id: ID!, $s: DateTime!) { rescheduleMeeting(id: $id, startsAt: $s) "
        "{ ... on MeetingPayload { meeting { startsAt code } } } }",
        {"id": meeting_id, "s": new_start},
        key=two.admin_a,
    )
    assert moved["rescheduleMeeting"]["meeting"] == {
        "startsAt": new_start,
        "code": two.a.meeting.code,
    }
    cancelled = await api.gql(
        f'mutation($id: ID!) {{ cancelMeeting(id: $id, reason: "Sports day") {{ {RESULT} '
        "... on MeetingPayload { meeting { status cancelReason } } } }",
        {"id": meeting_id},
        key=two.admin_a,
    )
    assert cancelled["cancelMeeting"]["meeting"] == {
        "status": "cancelled",
        "cancelReason": "Sports day",
    }
    again = await api.gql(
        f'mutation($id: ID!) {{ rescheduleMeeting(id: $id, startsAt: "{new_start}") {{ {RESULT} }} }}',
        {"id": meeting_id},
        key=two.admin_a,
    )
    assert again["rescheduleMeeting"]["__typename"] == "MeetingCancelled"
    stored = await fresh(session, Meeting, two.a.meeting.id)
    assert stored.status is MeetingStatus.cancelled


RECORD = f"""mutation($m: ID!, $marks: [AttendanceMarkInput!]!) {{ recordAttendance(meetingId: $m, marks: $marks) {{
    {RESULT} ... on AttendancePayload {{ attendance {{ rsvp rsvpChannel presence person {{ name }} }}
    meeting {{ attendanceSummary {{ rsvpYes rsvpNo rsvpNone }} }} }} }} }}"""


async def test_record_rsvps_for_many_people_at_once(
    api: Api, two: Two, session: AsyncSession
) -> None:
    one, other = (gid("Person", m.id) for m in two.a.members)
    marks = [
        {"personId": one, "rsvp": "yes"},
        {"personId": other, "rsvp": "no", "reason": "Exam duty"},
    ]
    data = await api.gql(
        RECORD, {"m": gid("Meeting", two.a.meeting.id), "marks": marks}, key=two.admin_a
    )
    payload = data["recordAttendance"]
    assert payload["meeting"]["attendanceSummary"] == {"rsvpYes": 1, "rsvpNo": 1, "rsvpNone": 1}
    assert {a["rsvpChannel"] for a in payload["attendance"]} == {"api"}
    rows = (await session.exec(select(Attendance).order_by(col(Attendance.id)))).all()
    assert [(r.rsvp, r.rsvp_reason, r.rsvp_actor) for r in rows][1] == (
        Rsvp.no,
        "Exam duty",
        rows[1].rsvp_actor,
    )
    assert rows[0].rsvp_actor is not None and rows[0].rsvp_actor.startswith("apikey:")


async def test_one_bad_mark_records_none_of_them(api: Api, two: Two, session: AsyncSession) -> None:
    marks = [
        {"personId": gid("Person", two.a.members[0].id), "rsvp": "yes"},
        {"personId": gid("Person", two.a.outsider.id), "rsvp": "yes"},
    ]
    data = await api.gql(
        RECORD, {"m": gid("Meeting", two.a.meeting.id), "marks": marks}, key=two.admin_a
    )
    assert data["recordAttendance"]["__typename"] == "NotAMember"
    assert (await session.exec(select(Attendance))).all() == []


async def test_presence_before_check_in_opens_is_refused(api: Api, two: Two) -> None:
    marks = [{"personId": gid("Person", two.a.members[0].id), "presence": "present"}]
    data = await api.gql(
        RECORD, {"m": gid("Meeting", two.a.meeting.id), "marks": marks}, key=two.admin_a
    )
    assert data["recordAttendance"]["__typename"] == "MeetingNotStarted"


async def test_marking_presence_once_the_meeting_runs(
    api: Api, two: Two, session: AsyncSession
) -> None:
    meeting = await fresh(session, Meeting, two.a.meeting.id)
    meeting.starts_at = datetime.now(UTC) - timedelta(minutes=10)
    meeting.ends_at = meeting.starts_at + timedelta(hours=2)
    await session.commit()
    marks = [{"personId": gid("Person", m.id), "presence": "present"} for m in two.a.members]
    data = await api.gql(
        RECORD, {"m": gid("Meeting", two.a.meeting.id), "marks": marks}, key=two.admin_a
    )
    assert [a["presence"] for a in data["recordAttendance"]["attendance"]] == ["present", "present"]
    rows = (await session.exec(select(Attendance))).all()
    assert {r.presence for r in rows} == {Presence.present}


async def test_admins_create_list_and_revoke_keys(
    api: Api, two: Two, session: AsyncSession
) -> None:
    created = await api.gql(
        'mutation { createApiKey(name: "M&E dashboard", scopes: [read, read_pii]) '
        "{ ... on ApiKeyCreated { secret apiKey { id name scopes } } } }",
        key=two.admin_a,
    )
    issued = created["createApiKey"]
    assert issued["apiKey"]["scopes"] == ["read", "read_pii"] and issued["secret"].startswith(
        "cpl_"
    )
    assert (await api.gql("{ programme { slug } }", key=issued["secret"]))["programme"][
        "slug"
    ] == "ke-clusters"
    revoked = await api.gql(
        "mutation($id: ID!) { revokeApiKey(id: $id) { ... on ApiKeyPayload { apiKey { revokedAt } } } }",
        {"id": issued["apiKey"]["id"]},
        key=two.admin_a,
    )
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    assert (await api.post("{ programme { slug } }", key=issued["secret"])).status_code == 401
    keys = (await session.exec(select(ApiKey).where(ApiKey.name == "M&E dashboard"))).all()
    assert len(keys) == 1 and keys[0].secret_hash not in issued["secret"]


async def test_every_mutation_is_audited_with_the_key_that_made_it(
    api: Api, two: Two, session: AsyncSession
) -> None:
    await api.gql(
        'mutation { createSchool(input: {code: "AUD-1", name: "Audit School"}) { __typename } }',
        key=two.admin_a,
    )
    school = (await session.exec(select(School).where(School.code == "AUD-1"))).one()
    entry = (
        await session.exec(
            select(AuditEntry).where(
                AuditEntry.object_type == "school", AuditEntry.object_id == school.id
            )
        )
    ).one()
    assert (
        entry.actor.startswith("apikey:")
        and entry.channel == "api"
        and entry.action == "school.create"
    )
    log = await api.gql(
        "query($id: ID) { auditLog(filter: {objectId: $id}) { nodes { action actor } } }",
        {"id": gid("School", school.id)},
        key=two.admin_a,
    )
    assert log["auditLog"]["nodes"] == [{"action": "school.create", "actor": entry.actor}]
