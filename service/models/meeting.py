"""Meetings of a community and who came."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import SQLModel

from service.models.base import enum_col, fk, id_field, stamp, text_col, when
from service.models.enums import Channel, MeetingStatus, Modality, Presence, Rsvp


class Meeting(SQLModel, table=True):
    __table_args__ = (
        # The code teachers type is unique only among meetings still open, so
        # four digits last for ever while old meetings keep theirs.
        sa.Index(
            "uq_meeting_open_code",
            "programme_id",
            "code",
            unique=True,
            sqlite_where=sa.text("status = 'scheduled'"),
            postgresql_where=sa.text("status = 'scheduled'"),
        ),
        sa.Index("ix_meeting_community_id_starts_at", "community_id", "starts_at"),
        sa.Index("ix_meeting_programme_id_starts_at", "programme_id", "starts_at"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: int | None = id_field()
    programme_id: int = fk("programme.id", index=False)
    community_id: int = fk("community.id", index=False)
    term_id: int | None = fk("term.id", nullable=True)
    starts_at: datetime = when(nullable=False)
    ends_at: datetime = when(nullable=False)
    modality: Modality = enum_col(Modality, Modality.in_person, length=16)
    venue: str | None = text_col(200, nullable=True)
    agenda: str | None = text_col(500, nullable=True)
    # The toolkit activity the meeting follows: its title, and where to find it (a
    # short link, or a page of the printed toolkit). Reminders and USSD show it.
    activity: str | None = text_col(120, nullable=True)
    activity_link: str | None = text_col(100, nullable=True)
    activity_page: int | None = None
    status: MeetingStatus = enum_col(MeetingStatus, MeetingStatus.scheduled, length=12)
    code: str = text_col(6)
    cancel_reason: str | None = text_col(200, nullable=True)
    # The last reminder round queued ("<offset>h@<start>"): the reminder job skips
    # meetings it has done without re-inserting a row per member every minute.
    reminded: str | None = text_col(40, nullable=True)
    # The start its facilitators were sent the "prepare" SMS for: a moved meeting is
    # prepared again for its new time, one already prepared is not read every minute.
    prepared_for: datetime | None = when()
    # When its attendees were sent the meeting's survey.
    surveyed_at: datetime | None = when()
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class Attendance(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("meeting_id", "person_id"),)

    id: int | None = id_field()
    meeting_id: int = fk("meeting.id", index=False)
    person_id: int = fk("person.id")
    rsvp: Rsvp = enum_col(Rsvp, Rsvp.none, length=8)
    rsvp_reason: str | None = text_col(40, nullable=True)
    rsvp_channel: Channel | None = enum_col(Channel, nullable=True, length=12)
    rsvp_actor: str | None = text_col(40, nullable=True)
    rsvp_at: datetime | None = when()
    presence: Presence = enum_col(Presence, Presence.unknown, length=8)
    presence_channel: Channel | None = enum_col(Channel, nullable=True, length=12)
    presence_actor: str | None = text_col(40, nullable=True)
    presence_at: datetime | None = when()
