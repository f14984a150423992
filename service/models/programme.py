"""The tenant and what hangs directly off it: schools and terms."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import (
    EXTERNAL_ID_LENGTH,
    enum_col,
    fk,
    id_field,
    json_list,
    stamp,
    text_col,
)
from service.models.enums import Country, Language, UssdBilling, Weekday
from service.models.types import EnumText


class Programme(SQLModel, table=True):
    id: int | None = id_field()
    slug: str = Field(max_length=40, unique=True, index=True)
    name: str = text_col(200)
    country: Country = enum_col(Country, length=2)
    timezone: str = text_col(64)
    default_language: Language = enum_col(Language, length=2)
    languages: list[str] = json_list()
    phone_region: str = text_col(2)
    service_code: str = Field(max_length=32, unique=True)
    sender_id: str | None = text_col(11, nullable=True)
    # The two-way short code teachers reply to. Several programmes of one AT account
    # may share one; an alphanumeric sender id cannot receive replies.
    short_code: str | None = text_col(8, nullable=True)
    # The WhatsApp Business number members are written from (E.164); None: no WhatsApp.
    whatsapp_number: str | None = text_col(20, nullable=True)
    reminder_offsets_h: list[int] = json_list()
    quiet_hours_start: time = Field(default=time(19, 0), nullable=False)
    quiet_hours_end: time = Field(default=time(7, 0), nullable=False)
    currency: str = text_col(3)
    sms_price: Decimal = Field(default=Decimal("0"), sa_type=sa.Numeric(10, 4), nullable=False)
    # What the network charges for a USSD session: per session, or per 20 s begun.
    ussd_price: Decimal = Field(
        default=Decimal("0"),
        sa_type=sa.Numeric(10, 4),
        nullable=False,
        sa_column_kwargs={"server_default": "0"},
    )
    # What WhatsApp charges for a template message (business-initiated, outside the
    # 24-hour window); free text inside the window costs nothing.
    whatsapp_price: Decimal = Field(
        default=Decimal("0"),
        sa_type=sa.Numeric(10, 4),
        nullable=False,
        sa_column_kwargs={"server_default": "0"},
    )
    ussd_billing: UssdBilling = Field(
        default=UssdBilling.session,
        sa_type=EnumText(UssdBilling, length=8),
        nullable=False,
        sa_column_kwargs={"server_default": UssdBilling.session.value},
    )
    # After a meeting is held its attendees get its survey; one reminder if unfinished.
    survey_delay_minutes: int = Field(default=120, ge=0, sa_column_kwargs={"server_default": "120"})
    survey_reminder_hours: int | None = Field(
        default=24, ge=1, sa_column_kwargs={"server_default": "24"}
    )
    # School leaders' weekly SMS digest: this day and time, programme time.
    digest_day: Weekday = Field(
        default=Weekday.monday,
        sa_type=EnumText(Weekday, length=9),
        nullable=False,
        sa_column_kwargs={"server_default": Weekday.monday.value},
    )
    digest_time: time = Field(
        default=time(7, 0), nullable=False, sa_column_kwargs={"server_default": "07:00:00"}
    )
    # Message texts and free-text answers older than this many months are blanked by the
    # worker (the rows, their status and cost stay for the figures).
    retention_months: int = Field(
        default=24, ge=1, le=120, sa_column_kwargs={"server_default": "24"}
    )
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class School(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "code"),
        # An index, not a constraint: SQLite adds one to a table in place. NULLs repeat.
        sa.Index("uq_school_programme_id_external_id", "programme_id", "external_id", unique=True),
    )

    id: int | None = id_field()
    programme_id: int = fk("programme.id")
    code: str = text_col(32)
    # The school's id in another system (an EMIS code), as written there.
    external_id: str | None = text_col(EXTERNAL_ID_LENGTH, nullable=True)
    name: str = text_col(200)
    district: str | None = text_col(100, nullable=True)
    sector: str | None = text_col(100, nullable=True)
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class Term(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "name"),
        sa.CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
    )

    id: int | None = id_field()
    programme_id: int = fk("programme.id")
    name: str = text_col(60)
    starts_on: date
    ends_on: date
    created_at: datetime = stamp()
