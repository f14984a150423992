"""The closed vocabularies of the domain, stored as text."""

from enum import StrEnum


class Country(StrEnum):
    KE = "KE"
    RW = "RW"
    TZ = "TZ"
    MW = "MW"
    SL = "SL"


class Language(StrEnum):
    en = "en"
    sw = "sw"
    rw = "rw"
    fr = "fr"
    ny = "ny"


class Role(StrEnum):
    teacher = "teacher"
    subject_lead = "subject_lead"
    head_teacher = "head_teacher"
    deputy_head = "deputy_head"
    coach = "coach"
    sector_facilitator = "sector_facilitator"
    programme_staff = "programme_staff"


class ConsoleRole(StrEnum):
    """What a person may do in the web console; a person without one cannot sign in."""

    programme_admin = "programme_admin"  # the whole programme, whole numbers, grants access
    programme_staff = "programme_staff"  # the whole programme (M&E): figures, numbers masked
    school_leader = "school_leader"  # their school's communities and teachers
    facilitator = "facilitator"  # the communities they facilitate


class Gender(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    undisclosed = "undisclosed"


class ConsentState(StrEnum):
    unknown = "unknown"
    given = "given"
    refused = "refused"


class CommunityKind(StrEnum):
    school = "school"  # one school's subject CoP
    cluster = "cluster"  # several schools, usually led by a coach


class MembershipStatus(StrEnum):
    pending = "pending"
    active = "active"
    left = "left"


class MembershipRole(StrEnum):
    member = "member"
    facilitator = "facilitator"


class Modality(StrEnum):
    in_person = "in_person"
    remote_whatsapp = "remote_whatsapp"
    phone = "phone"
    hybrid = "hybrid"


class MeetingStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"
    cancelled = "cancelled"


class Rsvp(StrEnum):
    none = "none"
    yes = "yes"
    no = "no"


class Presence(StrEnum):
    unknown = "unknown"
    present = "present"
    remote = "remote"
    absent = "absent"


class Channel(StrEnum):
    """Where a change came from: shown beside every RSVP, mark and audit entry."""

    ussd = "ussd"
    sms = "sms"
    api = "api"
    cli = "cli"
    import_ = "import"
    console = "console"
    system = "system"


class QuestionKind(StrEnum):
    single_choice = "single_choice"
    yes_no = "yes_no"
    number = "number"
    rating = "rating"
    short_text = "short_text"


class SurveyStatus(StrEnum):
    draft = "draft"
    active = "active"
    closed = "closed"


class ResponseStatus(StrEnum):
    in_progress = "in_progress"
    completed = "completed"
    abandoned = "abandoned"


class Direction(StrEnum):
    outbound = "out"
    inbound = "in"


class MessageStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"  # accepted by the gateway
    delivered = "delivered"
    failed = "failed"
    unknown = "unknown"  # lease expired mid-send: never resent silently
    dropped = "dropped"  # not sent on purpose (opted out, quiet hours past the meeting…)
    received = "received"  # inbound


class Encoding(StrEnum):
    gsm7 = "GSM-7"
    ucs2 = "UCS-2"


class UssdOutcome(StrEnum):
    open = "open"
    completed = "completed"
    abandoned = "abandoned"
    failed = "failed"


class Scope(StrEnum):
    read = "read"
    read_pii = "read:pii"
    write = "write"
    sms_send = "sms:send"
    admin = "admin"
