"""A person: teacher, facilitator or staff, within one programme."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import SQLModel

from service.models.base import (
    EXTERNAL_ID_LENGTH,
    enum_col,
    fk,
    id_field,
    json_list,
    stamp,
    text_col,
    when,
)
from service.models.enums import Channel, ConsentState, ConsoleRole, Gender, Language, Reach


class Person(SQLModel, table=True):
    # NULL phones (members without one) do not collide: both engines let NULLs repeat.
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "phone"),
        sa.Index("ix_person_programme_id_name", "programme_id", "name"),
        # An index, not a constraint: SQLite adds one to a table in place. NULLs repeat.
        sa.Index("uq_person_programme_id_external_id", "programme_id", "external_id", unique=True),
    )

    id: int | None = id_field()
    programme_id: int = fk("programme.id", index=False)
    name: str = text_col(200)
    phone: str | None = text_col(20, nullable=True, index=True)
    # The person's id in another system the programme uses (a TSC number), as written there.
    external_id: str | None = text_col(EXTERNAL_ID_LENGTH, nullable=True)
    language: Language = enum_col(Language, length=2)
    # Set when the person picked their language themselves (USSD menu, or staff changing
    # it for one person on their request): a roster import then keeps it.
    language_chosen_at: datetime | None = when()
    language_chosen_channel: Channel | None = enum_col(Channel, nullable=True, length=12)
    school_id: int | None = fk("school.id", nullable=True)
    roles: list[str] = json_list()
    subjects: list[str] = json_list()
    gender: Gender | None = enum_col(Gender, nullable=True, length=12)
    consent: ConsentState = enum_col(ConsentState, ConsentState.unknown, length=12)
    consent_at: datetime | None = when()
    consent_channel: Channel | None = enum_col(Channel, nullable=True, length=12)
    opted_out_at: datetime | None = when()
    opted_out_channel: Channel | None = enum_col(Channel, nullable=True, length=12)
    # When an SMS first told this person how to opt out (the first message must).
    told_how_to_stop_at: datetime | None = when()
    # How messages reach them: SMS, or WhatsApp (with SMS when WhatsApp cannot deliver).
    reach: Reach = enum_col(Reach, Reach.sms, length=8)
    # WhatsApp's rules: a business writes first only to someone who opted in, and free
    # text only within 24 hours of their last message (templates outside it).
    whatsapp_opt_in_at: datetime | None = when()
    whatsapp_opted_out_at: datetime | None = when()
    whatsapp_last_inbound_at: datetime | None = when()
    # What they may do in the web console; None: they cannot sign in to it.
    console_role: ConsoleRole | None = enum_col(ConsoleRole, nullable=True, length=20)
    # Data rights: while a legal hold is set the person cannot be erased; `erased_at`
    # says their name, phone and texts were removed (the row stays for the counts).
    legal_hold_at: datetime | None = when()
    erased_at: datetime | None = when()
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class ConsentRecord(SQLModel, table=True):
    """One entry of a person's consent history: what they said, when, by which channel,
    and who recorded it. The person's `consent` is the latest entry's state."""

    __tablename__ = "consent_record"
    __table_args__ = (sa.Index("ix_consent_record_person_id_at", "person_id", "at"),)

    id: int | None = id_field()
    person_id: int = fk("person.id", index=False)
    state: ConsentState = enum_col(ConsentState, length=12)
    at: datetime = stamp()
    channel: Channel = enum_col(Channel, length=12)
    recorded_by: str = text_col(60)  # the actor's label: "person:12", "apikey:3", "cli:ana"
