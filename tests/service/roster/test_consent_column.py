"""The people file's `consent` column: given, refused or withdrawn joins the person's
consent history (empty leaves it as it is; the same again adds nothing)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.consent import history
from service.domain.erasure import erase_person
from service.domain.outcome import Outcome
from service.models import Person, Programme
from service.models.enums import Channel, ConsentState
from service.roster import ImportKind
from service.roster.export import people_csv
from tests import factories as f
from tests.service.roster.test_importer import kenya, run_import, write

__all__ = ["kenya"]  # the fixture, shared with the importer's tests

HEADER = "name,phone,school,consent\n"


async def _people(session: AsyncSession) -> dict[str, Person]:
    session.expunge_all()
    return {p.name: p for p in (await session.exec(select(Person))).all()}


async def test_the_consent_column_records_consent_in_the_history(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,given\nBrian Wafula,0722000111,KSM-01,\n"
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    assert report.applied, report.errors

    people = await _people(session)
    assert people["Achieng Otieno"].consent is ConsentState.given
    assert people["Brian Wafula"].consent is ConsentState.unknown
    [entry] = await history(session, people["Achieng Otieno"].id or 0)
    assert (entry.state, entry.channel, entry.recorded_by) == (
        ConsentState.given, Channel.import_, "cli:tests",
    )  # fmt: skip


async def test_a_changed_consent_is_an_update_and_the_same_again_changes_nothing(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    first = HEADER + "Achieng Otieno,0712345678,KSM-01,given\n"
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "a.csv", first))
    again = await run_import(session, kenya, ImportKind.people, write(tmp_path, "a.csv", first))
    assert again.outcomes[Outcome.unchanged] == 1

    withdrawn = HEADER + "Achieng Otieno,0712345678,KSM-01,Withdrawn\n"
    report = await run_import(
        session, kenya, ImportKind.people, write(tmp_path, "b.csv", withdrawn)
    )
    assert report.outcomes[Outcome.updated] == 1
    person = (await _people(session))["Achieng Otieno"]
    assert person.consent is ConsentState.withdrawn
    assert person.opted_out_at is not None  # no more messages, as after STOP
    states = [e.state for e in await history(session, person.id or 0)]
    assert states == [ConsentState.given, ConsentState.withdrawn]


async def test_an_unknown_consent_is_a_bad_row(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,maybe\n"
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    assert not report.applied
    assert "unknown consent 'maybe'" in report.errors[0].reason


async def test_the_exported_roster_carries_consent_and_leaves_erased_people_out(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = (
        HEADER + "Achieng Otieno,0712345678,KSM-01,refused\nBrian Wafula,0722000111,KSM-01,\n"
        "Erased Later,0722000222,KSM-01,given\n"
    )
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    gone = (await _people(session))["Erased Later"]
    await erase_person(kenya, gone.id or 0, session=session, actor=f.OPERATOR, now=f.now())
    await session.commit()
    exported = await people_csv(
        session, Person.programme_id == kenya.id, community_ids=None, pii=True
    )
    lines = exported.lstrip("\ufeff").splitlines()
    at = lines[0].split(",").index("consent")
    assert {line.split(",")[0]: line.split(",")[at] for line in lines[1:]} == {
        "Achieng Otieno": "refused",
        "Brian Wafula": "",
    }
