"""A survey version as a FLOIP Flow Results package (the open standard RapidPro, Viamo
and others read): a Data Package descriptor whose one resource is the survey's answers.

https://github.com/FLOIP/flow-results (specification.md). One package per survey
version ("Option 1" of its Results Versioning): a new version of a survey is a new
package with its own `id`, so a question's metadata never changes under an id.

- Questions map by kind: a single choice and yes/no are `select_one` (the response is
  the choice's label in the programme's language, or `yes`/`no`); a number and a rating
  are `numeric` with their `range`; short text is `text`, marked
  `is_personal_information` (the 1.1.0 draft's flag; 1.0.0-rc1 readers ignore it).
- Rows are `[timestamp, row_id, contact_id, session_id, question_id, response,
  response_metadata]`: one per stored answer; the timestamp is when it was given, in
  programme time with its offset; `row_id` the answer's id (as a string); `session_id`
  the response's (one person's run through the survey, across USSD, SMS and WhatsApp).
- People's data, as in the CSV exports: without `pii` the contact is a pseudonym
  (`c-` and 16 hex digits, an HMAC of the person keyed with the service's secret: the
  same person in every package and download, never reversible to a phone), and answers
  to short-text questions are left out. With `pii` the contact is the phone (E.164).

The spec forbids inline data: the resource points at `responses.json` beside the
descriptor (a folder or zip), or at the responses URL when served over HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.errors import NotFound
from service.domain.exports import _keyset
from service.domain.surveys import QuestionView, in_language
from service.models import Answer, Person, Programme, Question, Survey, SurveyResponse
from service.models.enums import QuestionKind
from service.models.types import utcnow

PROFILE = "flow-results-package"
SPEC_VERSION = "1.0.0-rc1"
RESPONSES_FILE = "responses.json"
# The spec asks for ISO 639-3 codes for the labels' language.
ISO_639_3 = {"en": "eng", "sw": "swa", "rw": "kin", "fr": "fra", "ny": "nya"}
FIELDS: list[dict[str, str]] = [
    {"name": "timestamp", "title": "Timestamp", "type": "datetime"},
    {"name": "row_id", "title": "Row ID", "type": "string"},
    {"name": "contact_id", "title": "Contact ID", "type": "string"},
    {"name": "session_id", "title": "Session ID", "type": "string"},
    {"name": "question_id", "title": "Question ID", "type": "string"},
    {"name": "response", "title": "Response", "type": "any"},
    {"name": "response_metadata", "title": "Response Metadata", "type": "object"},
]


@dataclass(frozen=True)
class PackageSpec:
    """One survey version, settled before a row is read (plain values: the rows end
    their transaction page by page)."""

    programme_id: int
    survey_id: int
    slug: str
    key: str
    version: int
    title: str
    created: datetime
    zone: ZoneInfo
    language: str
    pii: bool
    secret: bytes
    questions: tuple[QuestionView, ...]

    @property
    def name(self) -> str:
        # Data Package names: lower case letters, digits, ".", "_", "-".
        raw = f"{self.slug}-{self.key}-v{self.version}".lower()
        return re.sub(r"[^a-z0-9._-]+", "-", raw).strip("-")

    @property
    def package_id(self) -> str:
        """A version 4 UUID (the spec asks for one) that stays the same for this survey
        version on every download: from an HMAC, with the version bits set."""
        seed = f"flow-results:{self.programme_id}:{self.key}:{self.version}"
        digest = hmac.new(self.secret, seed.encode(), hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def contact(self, person_id: int, phone: str | None) -> str:
        if self.pii and phone:
            return phone
        return pseudonym(self.secret, self.programme_id, person_id)

    def local(self, moment: datetime) -> str:
        # RFC 3339 with the offset (`+00:00`, never `Z`), as the spec asks.
        return moment.astimezone(self.zone).isoformat()


def pseudonym(secret: bytes, programme_id: int, person_id: int) -> str:
    """A stable stand-in for a person: the same in every package of the programme."""
    digest = hmac.new(secret, f"contact:{programme_id}:{person_id}".encode(), hashlib.sha256)
    return "c-" + digest.hexdigest()[:16]


def question_id(question: QuestionView) -> str:
    return f"q{question.position}"


async def prepare(
    session: AsyncSession,
    programme: Programme,
    survey_id: int,
    *,
    pii: bool,
    secret: str,
) -> PackageSpec:
    """The spec of one survey version of `programme`; NotFound for another's or none."""
    assert programme.id is not None
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.programme_id != programme.id:
        raise NotFound(f"no survey {survey_id} in {programme.slug}")
    return await _spec(session, programme, survey, pii=pii, secret=secret)


async def find(
    session: AsyncSession,
    programme: Programme,
    key: str,
    version: int | None,
    *,
    pii: bool,
    secret: str,
) -> PackageSpec:
    """By the survey's key and version (the latest without one)."""
    stmt = select(Survey).where(Survey.programme_id == programme.id, Survey.key == key)
    if version is not None:
        stmt = stmt.where(Survey.version == version)
    survey = (await session.exec(stmt.order_by(col(Survey.version).desc()).limit(1))).first()
    if survey is None:
        known = (
            await session.exec(
                select(Survey.key, Survey.version)
                .where(Survey.programme_id == programme.id)
                .order_by(col(Survey.key), col(Survey.version))
            )
        ).all()
        listed = ", ".join(f"{k} v{v}" for k, v in known) or "none yet"
        wanted = key if version is None else f"{key} v{version}"
        raise NotFound(f"no survey {wanted} in {programme.slug} (surveys: {listed})")
    return await _spec(session, programme, survey, pii=pii, secret=secret)


async def _spec(
    session: AsyncSession, programme: Programme, survey: Survey, *, pii: bool, secret: str
) -> PackageSpec:
    assert programme.id is not None and survey.id is not None
    questions = (
        await session.exec(
            select(Question).where(Question.survey_id == survey.id).order_by(col(Question.position))
        )
    ).all()
    language = programme.default_language.value
    return PackageSpec(
        programme_id=programme.id,
        survey_id=survey.id,
        slug=programme.slug,
        key=survey.key,
        version=survey.version,
        title=in_language(survey.title, language, "en") or survey.key,
        created=survey.created_at,
        zone=ZoneInfo(programme.timezone),
        language=language,
        pii=pii,
        secret=secret.encode(),
        questions=tuple(QuestionView.of(q) for q in questions),
    )


def _label(texts: Mapping[str, str], language: str) -> str:
    return in_language(texts, language, "en")


def _choices(question: QuestionView, language: str) -> list[str]:
    if question.kind is QuestionKind.yes_no:
        return ["yes", "no"]
    return [_label(option, language) for option in question.options]


def describe(question: QuestionView, language: str) -> dict[str, Any]:
    """The question as the spec's `questions` object holds it."""
    described: dict[str, Any] = {"label": _label(question.text, language)}
    match question.kind:
        case QuestionKind.single_choice | QuestionKind.yes_no:
            described |= {
                "type": "select_one",
                "type_options": {"choices": _choices(question, language)},
            }
        case QuestionKind.rating:
            described |= {"type": "numeric", "type_options": {"range": [1, 5]}}
        case QuestionKind.number:
            low, high = question.min_value or 0, question.max_value or 0
            described |= {"type": "numeric", "type_options": {"range": [low, high]}}
        case _:
            described |= {"type": "text", "type_options": {}, "is_personal_information": True}
    return described


def descriptor(
    spec: PackageSpec, responses_path: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """The package's `datapackage.json`; its resource's data is at `responses_path` (a
    file beside it, or a URL)."""
    created = spec.local(spec.created)
    return {
        "profile": PROFILE,
        "flow_results_specification_version": SPEC_VERSION,
        "name": spec.name,
        "title": spec.title,
        "id": spec.package_id,
        # A package of a survey version changes only in its rows: its schema's time is
        # the version's creation. `modified` as the spec uses it versions the schema.
        "created": created,
        "modified": created,
        "resources": [
            {
                "name": f"{spec.name}-responses",
                "path": responses_path,
                # A table of seven columns with no header row: what lets a Data Package
                # reader (frictionless) read the rows as they are. Data Package 1.0's
                # dialect is CSV Dialect, which requires a delimiter and doubleQuote
                # (they mean nothing to JSON rows).
                "profile": "tabular-data-resource",
                "dialect": {"header": False, "delimiter": ",", "doubleQuote": True},
                "access_method": "file",
                "format": "json",
                "mediatype": "application/json",
                "encoding": "utf-8",
                "schema": {
                    "language": ISO_639_3.get(spec.language, "eng"),
                    "fields": FIELDS,
                    "questions": {
                        question_id(q): describe(q, spec.language) for q in spec.questions
                    },
                },
            }
        ],
        "copline": {
            "survey_key": spec.key,
            "survey_version": spec.version,
            "personal_information": spec.pii,
            "exported_at": spec.local(now or utcnow()),
        },
    }


def _response_value(question: QuestionView, value: str, language: str) -> Any:
    match question.kind:
        case QuestionKind.single_choice:
            choices = _choices(question, language)
            if value.isdigit() and 1 <= int(value) <= len(choices):
                return choices[int(value) - 1]
            return value
        case QuestionKind.number | QuestionKind.rating:
            try:
                return int(value)
            except ValueError:
                return value
        case _:
            return value


async def rows(session: AsyncSession, spec: PackageSpec) -> AsyncIterator[list[Any]]:
    """The responses resource, one row per answer in the order they were stored. Short
    text only with `pii`."""
    by_id = {q.id: q for q in spec.questions}
    stmt = (
        sa.select(Answer, col(SurveyResponse.person_id), col(Person.phone))
        .join(SurveyResponse, col(SurveyResponse.id) == col(Answer.response_id))
        .join(Person, col(Person.id) == col(SurveyResponse.person_id))
        .where(col(SurveyResponse.survey_id) == spec.survey_id)
    )
    if not spec.pii:
        private = [q.id for q in spec.questions if q.kind is QuestionKind.short_text]
        if private:
            stmt = stmt.where(col(Answer.question_id).not_in(private))
    async for row in _keyset(session, stmt, [col(Answer.id)]):
        answer: Answer = row[0]
        question = by_id.get(answer.question_id)
        if question is None:
            continue
        metadata: dict[str, Any] = {"channel": answer.channel.value}
        if question.kind is QuestionKind.single_choice:
            metadata["option"] = answer.value
        yield [
            spec.local(answer.answered_at),
            str(answer.id),  # the spec compares row ids as strings; its field is a string
            spec.contact(row[1], row[2]),
            str(answer.response_id),
            question_id(question),
            _response_value(question, answer.value, spec.language),
            metadata,
        ]


async def json_chunks(found: AsyncIterator[list[Any]]) -> AsyncIterator[str]:
    """The rows as one JSON array, a page at a time (constant memory for any survey)."""
    yield "["
    first = True
    buffer: list[str] = []
    async for row in found:
        buffer.append(("" if first else ",") + "\n" + json.dumps(row, ensure_ascii=False))
        first = False
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    yield "".join(buffer) + ("\n]" if not first else "]")
