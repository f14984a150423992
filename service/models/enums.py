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
    ny = "ny"  # Chichewa (Malawi)


class Role(StrEnum):
    teacher = "teacher"
    subject_lead = "subject_lead"
    head_teacher = "head_teacher"
    deputy_head = "deputy_head"
    coach = "coach"
    sector_facilitator = "sector_facilitator"
    programme_staff = "programme_staff"


# The roles that lead a school: they get its weekly digest and its USSD menu.
SCHOOL_LEADERS = (Role.head_teacher, Role.deputy_head)


class Weekday(StrEnum):
    """A day of the week, Monday first as `date.weekday()` counts (0-6)."""

    monday = "monday"
    tuesday = "tuesday"
    wednesday = "wednesday"
    thursday = "thursday"
    friday = "friday"
    saturday = "saturday"
    sunday = "sunday"

    @property
    def number(self) -> int:
        """0 for Monday to 6 for Sunday, as `date.weekday()`."""
        return list(Weekday).index(self)


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
    """A person's consent to the programme keeping and using their data. `unknown` until
    something is recorded; each recording is a row of their consent history."""

    unknown = "unknown"
    given = "given"
    refused = "refused"  # asked, and said no
    withdrawn = "withdrawn"  # had given it, and took it back (STOP, staff on their word)


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


class Reach(StrEnum):
    """How a person is reached on their phone: by SMS (any phone), or by WhatsApp on a
    smartphone, falling back to SMS when WhatsApp cannot deliver."""

    sms = "sms"
    whatsapp = "whatsapp"


class Channel(StrEnum):
    """Where a change came from: shown beside every RSVP, mark and audit entry."""

    ussd = "ussd"
    sms = "sms"
    whatsapp = "whatsapp"
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


class UssdBilling(StrEnum):
    """How the network bills a USSD session: once per session, or per 20 s begun."""

    session = "session"
    per_20s = "per_20s"


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


class WebhookEvent(StrEnum):
    """What a programme's webhook endpoints can subscribe to."""

    attendance_marked = "attendance.marked"
    rsvp_given = "rsvp.given"
    meeting_scheduled = "meeting.scheduled"
    meeting_moved = "meeting.moved"
    meeting_cancelled = "meeting.cancelled"
    meeting_held = "meeting.held"
    survey_response_completed = "survey_response.completed"
    message_delivered = "message.delivered"
    message_failed = "message.failed"
    person_opted_out = "person.opted_out"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting its turn, or a retry
    delivered = "delivered"  # the endpoint answered 2xx
    failed = "failed"  # still refused a day after the first attempt
