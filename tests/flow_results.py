"""A survey answered by two teachers, and the checks every Flow Results package must pass:
the bundled JSON schemas (schema/flow-results/) and the rules that span its two files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.surveys import SurveySpec, open_response, record_answer, save_survey
from service.models import Survey
from service.models.enums import Channel, SurveyStatus
from tests import factories as f

SCHEMAS = Path(__file__).resolve().parent.parent / "schema" / "flow-results"
BASE = "https://copline.example/schema/flow-results/"
OWN_WORDS = "Tuligawanya wanafunzi katika vikundi"


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def _registry() -> Registry:
    resources = [
        (BASE + name, Resource.from_contents(_schema(name), default_specification=DRAFT7))
        for name in ("datapackage-1.0.json", "flow-results-package.json")
    ]
    return Registry().with_resources(resources)


def check_package(descriptor: dict[str, Any], rows: list[list[Any]]) -> None:
    """Raise if the package breaks the schemas, or a row does not fit its question."""
    registry = _registry()
    jsonschema.Draft7Validator(
        _schema("flow-results-package.json"),
        registry=registry,
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    ).validate(descriptor)
    jsonschema.Draft7Validator(_schema("flow-results-responses.json")).validate(rows)
    questions = descriptor["resources"][0]["schema"]["questions"]
    assert len({str(r[1]) for r in rows}) == len(rows), "row ids must be unique"
    for row in rows:
        question = questions[row[4]]
        response = row[5]
        if question["type"] == "select_one":
            assert response in question["type_options"]["choices"], row
        elif question["type"] == "numeric":
            low, high = question["type_options"]["range"]
            assert isinstance(response, int) and low <= response <= high, row
        else:
            assert isinstance(response, str), row


@dataclass
class Answered:
    world: f.World
    survey: Survey


async def answered_survey(session: AsyncSession) -> Answered:
    """A Kenyan programme's survey of every kind of question; the first member answered
    all of it (by USSD), the second the first two questions (by SMS)."""
    w = await f.world(session)
    spec = SurveySpec.model_validate(
        {
            "key": "term-check",
            "title": {"sw": "Tathmini ya muhula", "en": "Term check"},
            "questions": [
                {
                    "kind": "single_choice",
                    "text": {"sw": "Mada kuu?", "en": "Main topic?"},
                    "options": [
                        {"sw": "Ujumuishaji", "en": "Inclusion"},
                        {"sw": "Ustawi", "en": "Wellbeing"},
                    ],
                },
                {"kind": "rating", "text": {"sw": "Ilisaidia?", "en": "Useful?"}},
                {"kind": "yes_no", "text": {"sw": "Utajaribu?", "en": "Will you try it?"}},
                {
                    "kind": "number",
                    "text": {"sw": "Wanafunzi wangapi?", "en": "How many learners?"},
                    "min_value": 0,
                    "max_value": 120,
                },
                {"kind": "short_text", "text": {"sw": "Nini?", "en": "What?"}},
            ],
        }
    )
    survey = await save_survey(w.programme, spec, session=session, actor=f.OPERATOR)
    survey.status = SurveyStatus.active
    assert survey.id is not None
    start = f.now() - timedelta(hours=3)
    first, second = w.members
    assert first.id is not None and second.id is not None
    response = await open_response(session, survey.id, first.id, Channel.ussd, start)
    for position, raw in enumerate(["2", "4", "yes", "35", OWN_WORDS], start=1):
        moment = start + timedelta(minutes=position)
        await record_answer(session, response, position, raw, channel=Channel.ussd, now=moment)
    response = await open_response(session, survey.id, second.id, Channel.sms, start)
    for position, raw in enumerate(["1", "5"], start=1):
        moment = start + timedelta(minutes=10 + position)
        await record_answer(session, response, position, raw, channel=Channel.sms, now=moment)
    await session.commit()
    return Answered(w, survey)
