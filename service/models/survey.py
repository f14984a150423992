"""Keypad-sized surveys, versioned, and the answers people give."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import enum_col, fk, id_field, json_dict, json_list, stamp, text_col, when
from service.models.enums import Channel, QuestionKind, ResponseStatus, SurveyStatus


class Survey(SQLModel, table=True):
    # A survey with responses is never edited in place: a change is a new version.
    __table_args__ = (sa.UniqueConstraint("programme_id", "key", "version"),)

    id: int | None = id_field()
    programme_id: int = fk("programme.id")
    key: str = text_col(60)
    version: int = Field(default=1, ge=1)
    title: dict[str, str] = json_dict()  # language -> text
    status: SurveyStatus = enum_col(SurveyStatus, SurveyStatus.draft, length=12)
    community_id: int | None = fk("community.id", nullable=True)
    meeting_id: int | None = fk("meeting.id", nullable=True)
    audience: dict[str, Any] = json_dict()  # e.g. {"roles": [...], "school_ids": [...]}
    # An audience survey may be sent at a set time, once, to these communities' members
    # (every community of the programme with None); `sent_at` when the worker sent it.
    send_at: datetime | None = when()
    send_to: list[int] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    sent_at: datetime | None = when()
    created_at: datetime = stamp()


class Question(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("survey_id", "position"),)

    id: int | None = id_field()
    survey_id: int = fk("survey.id", index=False)
    position: int = Field(ge=1)
    kind: QuestionKind = enum_col(QuestionKind, length=16)
    text: dict[str, str] = json_dict()
    options: list[dict[str, str]] = json_list()  # each option: language -> label
    min_value: int | None = None
    max_value: int | None = None
    required: bool = True
    # Simple skip rule: ask only if the answer at `show_if_position` equals `show_if_value`.
    show_if_position: int | None = None
    show_if_value: str | None = text_col(40, nullable=True)


class SurveyResponse(SQLModel, table=True):
    __tablename__ = "survey_response"
    __table_args__ = (sa.Index("ix_survey_response_survey_id_person_id", "survey_id", "person_id"),)

    id: int | None = id_field()
    survey_id: int = fk("survey.id", index=False)
    person_id: int = fk("person.id")
    meeting_id: int | None = fk("meeting.id", nullable=True)
    channel: Channel = enum_col(Channel, length=12)
    status: ResponseStatus = enum_col(ResponseStatus, ResponseStatus.in_progress, length=12)
    started_at: datetime = stamp()
    updated_at: datetime = stamp()
    completed_at: datetime | None = when()
    # The question last sent by SMS: a reply answers it.
    asked_position: int | None = None


class Answer(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("response_id", "question_id"),)

    id: int | None = id_field()
    response_id: int = fk("survey_response.id", index=False)
    question_id: int = fk("question.id")
    value: str = text_col(500)
    channel: Channel = enum_col(Channel, length=12)
    answered_at: datetime = stamp()
    # The USSD session (or SMS) it came in: a USSD replay tells its own answers apart.
    session_ref: str | None = text_col(100, nullable=True)
