"""Communities of Practice, the schools they span and who belongs to them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import enum_col, fk, id_field, json_list, stamp, text_col, when
from service.models.enums import CommunityKind, MembershipRole, MembershipStatus


class Community(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "code"),
        sa.UniqueConstraint("programme_id", "join_code"),
    )

    id: int | None = id_field()
    programme_id: int = fk("programme.id")
    code: str = text_col(40)
    name: str = text_col(200)
    kind: CommunityKind = enum_col(CommunityKind, length=12)
    subjects: list[str] = json_list()
    join_code: str = text_col(8)
    meetings_per_term: int = Field(default=3, ge=0, le=60)
    # None: follow the programme's reminder policy.
    reminder_offsets_h: list[int] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class CommunitySchool(SQLModel, table=True):
    __tablename__ = "community_school"

    community_id: int = Field(foreign_key="community.id", primary_key=True)
    school_id: int = Field(foreign_key="school.id", primary_key=True, index=True)


class Membership(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("community_id", "person_id"),)

    id: int | None = id_field()
    community_id: int = fk("community.id", index=False)
    person_id: int = fk("person.id")
    role: MembershipRole = enum_col(MembershipRole, MembershipRole.member, length=12)
    status: MembershipStatus = enum_col(MembershipStatus, MembershipStatus.active, length=12)
    requested_at: datetime = stamp()
    joined_at: datetime | None = when()
    left_at: datetime | None = when()
