"""What a screen may know about the caller: loaded once per hop, plain data after that."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from service.domain.digests import SchoolWeek
from service.domain.surveys import Pending
from service.models.enums import Language, MeetingStatus, MembershipRole, Modality, Presence, Rsvp


@dataclass(frozen=True)
class JoinTarget:
    community_id: int
    name: str


@dataclass(frozen=True)
class ProgrammeInfo:
    id: int
    name: str
    timezone: ZoneInfo
    languages: tuple[Language, ...]
    default_language: Language
    join_codes: dict[str, JoinTarget] = field(default_factory=dict)


@dataclass(frozen=True)
class MeetingView:
    id: int
    code: str
    community_id: int
    community: str
    starts_at: datetime  # programme time
    ends_at: datetime
    modality: Modality
    venue: str | None
    rsvp: Rsvp
    presence: Presence
    status: MeetingStatus = MeetingStatus.scheduled


@dataclass(frozen=True)
class CommunityView:
    id: int
    name: str
    role: MembershipRole
    facilitators: tuple[str, ...]
    members: int


@dataclass(frozen=True)
class MemberView:
    id: int
    name: str
    has_phone: bool


@dataclass(frozen=True)
class RequestView:
    membership_id: int
    name: str
    community: str


@dataclass(frozen=True)
class Facilitation:
    """What a facilitator sees of the communities they lead."""

    meetings: tuple[MeetingView, ...] = ()  # last week's and coming ones, scheduled or held
    rosters: dict[int, tuple[MemberView, ...]] = field(default_factory=dict)  # community -> members
    marks: dict[int, dict[int, tuple[Rsvp, Presence]]] = field(
        default_factory=dict
    )  # meeting -> person
    requests: tuple[RequestView, ...] = ()


@dataclass(frozen=True)
class TextAnswer:
    """A free-text survey answer this session gave: how many of the `*`-joined inputs it
    took, from the input where it began (AT cannot tell a typed `*` from a new hop)."""

    survey_id: int
    position: int
    parts: int


class NeedsData(Exception):
    """A screen needs a part of the caller's context that was not loaded for this hop."""

    def __init__(self, part: str) -> None:
        super().__init__(part)
        self.part = part


@dataclass(frozen=True)
class Caller:
    """The caller as screens see them. Parts load on demand: a screen that touches one
    that is not loaded raises NeedsData, the engine loads it and replays (replay is pure
    and cheap), so a hop costs only the queries its screens need."""

    phone: str
    programme: ProgrammeInfo
    now: datetime  # programme time
    person_id: int | None = None
    name: str | None = None
    language: Language = Language.en
    facilitates: bool = False
    active: tuple[tuple[int, MembershipRole, str], ...] = ()  # (community, role, name)
    pending: tuple[str, ...] = ()
    communities_: tuple[CommunityView, ...] | None = None
    meetings_: tuple[MeetingView, ...] | None = None  # not over yet, soonest first
    facilitation_: Facilitation | None = None
    session_ref: str = ""  # the USSD session: tells this session's survey answers apart
    surveys_: tuple[Pending, ...] | None = None
    # The input index each of this session's free-text answers began at; loaded with surveys.
    text_answers: Mapping[int, TextAnswer] = field(default_factory=dict)
    leads_school: int | None = None  # the school they lead as head teacher or deputy
    school_: SchoolWeek | None = None  # its week, once loaded (None too: it has no CoP)
    school_loaded: bool = False

    @property
    def known(self) -> bool:
        return self.person_id is not None

    @property
    def first_name(self) -> str:
        return (self.name or "").split(" ")[0]

    @property
    def communities(self) -> tuple[CommunityView, ...]:
        if self.communities_ is None:
            raise NeedsData("communities")
        return self.communities_

    @property
    def meetings(self) -> tuple[MeetingView, ...]:
        if self.meetings_ is None:
            raise NeedsData("meetings")
        return self.meetings_

    @property
    def facilitation(self) -> Facilitation | None:
        if not self.facilitates:
            return None
        if self.facilitation_ is None:
            raise NeedsData("facilitation")
        return self.facilitation_

    @property
    def surveys(self) -> tuple[Pending, ...]:
        if self.surveys_ is None:
            raise NeedsData("surveys")
        return self.surveys_

    @property
    def school(self) -> SchoolWeek | None:
        """The week of the school they lead; None if they lead none or it has no CoP."""
        if self.leads_school is None:
            return None
        if not self.school_loaded:
            raise NeedsData("school")
        return self.school_

    def upcoming(self) -> list[MeetingView]:
        return [m for m in self.meetings if m.starts_at > self.now]

    def meeting_by_code(self, code: str) -> MeetingView | None:
        return next((m for m in self.meetings if m.code == code), None)
