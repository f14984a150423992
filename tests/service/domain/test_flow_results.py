"""A survey version as a Flow Results package: valid against the bundled schemas, its
questions typed, its contacts pseudonymous and free text left out unless pii."""

from __future__ import annotations

import re
from typing import Any

import pytest_asyncio
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import flow_results
from service.domain.surveys import SurveySpec, save_survey
from tests.factories import OPERATOR
from tests.flow_results import OWN_WORDS, Answered, answered_survey, check_package

SECRET = "test-secret"
WHOLE_PHONE = re.compile(r"\+2547[0-9]{8}")


@pytest_asyncio.fixture
async def answered(session: AsyncSession) -> Answered:
    return await answered_survey(session)


async def package(
    session: AsyncSession, answered: Answered, *, pii: bool, secret: str = SECRET
) -> tuple[dict[str, Any], list[list[Any]]]:
    assert answered.survey.id is not None
    spec = await flow_results.prepare(
        session, answered.world.programme, answered.survey.id, pii=pii, secret=secret
    )
    rows = [row async for row in flow_results.rows(session, spec)]
    return flow_results.descriptor(spec, flow_results.RESPONSES_FILE), rows


async def test_a_survey_version_is_a_valid_flow_results_package(
    session: AsyncSession, answered: Answered
) -> None:
    descriptor, rows = await package(session, answered, pii=True)
    check_package(descriptor, rows)
    assert descriptor["profile"] == "flow-results-package"
    assert descriptor["flow_results_specification_version"] == "1.0.0-rc1"
    assert descriptor["name"] == "ke-clusters-term-check-v1"
    assert descriptor["title"] == "Tathmini ya muhula"  # the programme's language
    resource = descriptor["resources"][0]
    assert resource["path"] == "responses.json" and "data" not in resource
    assert resource["schema"]["language"] == "swa"
    assert resource["schema"]["questions"] == {
        "q1": {
            "type": "select_one",
            "label": "Mada kuu?",
            "type_options": {"choices": ["Ujumuishaji", "Ustawi"]},
        },
        "q2": {"type": "numeric", "label": "Ilisaidia?", "type_options": {"range": [1, 5]}},
        "q3": {
            "type": "select_one",
            "label": "Utajaribu?",
            "type_options": {"choices": ["yes", "no"]},
        },
        "q4": {
            "type": "numeric",
            "label": "Wanafunzi wangapi?",
            "type_options": {"range": [0, 120]},
        },
        "q5": {
            "type": "text",
            "label": "Nini?",
            "type_options": {},
            "is_personal_information": True,
        },
    }


async def test_rows_carry_each_answer_as_its_question_reads_it(
    session: AsyncSession, answered: Answered
) -> None:
    _, rows = await package(session, answered, pii=True)
    first, second = answered.world.members
    assert [(r[2], r[4], r[5]) for r in rows] == [
        (first.phone, "q1", "Ustawi"),
        (first.phone, "q2", 4),
        (first.phone, "q3", "yes"),
        (first.phone, "q4", 35),
        (first.phone, "q5", OWN_WORDS),
        (second.phone, "q1", "Ujumuishaji"),
        (second.phone, "q2", 5),
    ]
    assert rows[0][6] == {"channel": "ussd", "option": "2"}
    assert rows[5][6] == {"channel": "sms", "option": "1"}
    # One session per person's response; the time in programme time with its offset.
    assert rows[0][3] == rows[4][3] != rows[5][3]
    assert all(r[0].endswith("+03:00") for r in rows)


async def test_without_pii_contacts_are_stable_pseudonyms_and_free_text_stays_out(
    session: AsyncSession, answered: Answered
) -> None:
    descriptor, rows = await package(session, answered, pii=False)
    check_package(descriptor, rows)
    text = repr(rows) + repr(descriptor)
    assert WHOLE_PHONE.search(text) is None
    assert OWN_WORDS not in text
    assert [r[4] for r in rows] == ["q1", "q2", "q3", "q4", "q1", "q2"]
    contacts = [r[2] for r in rows]
    assert all(re.fullmatch(r"c-[0-9a-f]{16}", c) for c in contacts)
    assert len(set(contacts[:4])) == 1 and contacts[0] != contacts[4]
    # The same person is the same contact in a second download, and in another package.
    _, again = await package(session, answered, pii=False)
    assert [r[2] for r in again] == contacts
    # The question stays described: the package's shape does not depend on the key.
    assert "q5" in descriptor["resources"][0]["schema"]["questions"]


async def test_a_package_keeps_its_id_per_version_and_a_new_version_gets_another(
    session: AsyncSession, answered: Answered
) -> None:
    first, _ = await package(session, answered, pii=False)
    again, _ = await package(session, answered, pii=True)
    assert first["id"] == again["id"]
    spec = SurveySpec.model_validate(
        {
            "key": "term-check",
            "title": {"sw": "Tathmini"},
            "questions": [{"kind": "yes_no", "text": {"sw": "Ndiyo?"}}],
        }
    )
    newer = await save_survey(answered.world.programme, spec, session=session, actor=OPERATOR)
    assert newer.version == 2
    found = await flow_results.find(
        session, answered.world.programme, "term-check", None, pii=False, secret=SECRET
    )
    assert found.version == 2 and found.package_id != first["id"]
    assert flow_results.descriptor(found, "responses.json")["name"] == "ke-clusters-term-check-v2"
