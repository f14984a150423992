"""A roster uploaded in the console: its files between preview and confirm, then the import's
progress and report, kept where any web instance serving the person can read them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import enum_col, fk, id_field, json_dict, json_list, stamp, text_col, when


class UploadState(StrEnum):
    previewed = "previewed"  # checked, nothing written: waits for the person to confirm
    running = "running"  # importing: `progress` moves
    done = "done"  # `result` holds each file's report
    failed = "failed"  # the import stopped (the database went away…): `result` says where


class RosterUpload(SQLModel, table=True):
    __tablename__ = "roster_upload"

    id: int | None = id_field()
    # Random, in the page's address; only the console session that uploaded may use it.
    token: str = Field(max_length=64, unique=True)
    programme_id: int = fk("programme.id")
    person_id: int = fk("person.id", index=False)
    console_session_id: int = fk("console_session.id", index=False)
    state: UploadState = enum_col(UploadState, UploadState.previewed, length=12)
    # {kind: file name as uploaded}; the texts are cleared once the import has run.
    names: dict[str, Any] = json_dict()
    schools_csv: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    communities_csv: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    people_csv: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    may_grant_console: bool = False  # the uploader was a programme admin
    preview: list[Any] = json_list()  # a report per file (service.roster report as JSON)
    progress: dict[str, Any] = json_dict()  # {kind, phase, done, total}
    result: list[Any] = json_list()
    created_at: datetime = stamp()
    updated_at: datetime = stamp()  # moves with the progress: a stale one is a dead import
    finished_at: datetime | None = when()
    note: str | None = text_col(300, nullable=True)  # why it failed, in one line
